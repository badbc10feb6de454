import sys

from colorme_desktop.cli import main

sys.exit(main())

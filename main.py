"""Run ColorMe Desktop from a checkout: ``python main.py [IMAGE] [--hints HINTS.json]``."""

import sys

from colorme_desktop.ui.app import main

if __name__ == "__main__":
    sys.exit(main())

"""Install a .desktop entry and icon for the current user (freedesktop menus)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

# The checkout's resources/ folder (the app is installed in editable mode from it).
RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))


def install_desktop_entry() -> Path:
    data = _data_home()
    icons = data / "icons" / "hicolor" / "scalable" / "apps"
    apps = data / "applications"
    icons.mkdir(parents=True, exist_ok=True)
    apps.mkdir(parents=True, exist_ok=True)
    shutil.copy(RESOURCES / "colorme.svg", icons / "colorme.svg")
    template = (RESOURCES / "colorme.desktop").read_text()
    # Point Exec at this installation, so the menu entry works without PATH changes.
    launcher = Path(sys.executable).with_name("colorme-desktop")
    exec_line = f'"{launcher}" %f' if launcher.exists() else f'"{sys.executable}" -m colorme_desktop.ui.app %f'
    entry = "\n".join(f"Exec={exec_line}" if line.startswith("Exec=") else line
                      for line in template.splitlines()) + "\n"
    target = apps / "colorme.desktop"
    target.write_text(entry)
    return target

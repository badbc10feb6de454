"""Start the desktop app: ``colorme-desktop [IMAGE] [--hints HINTS.json]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from colorme_desktop.engines.base import prefer_passive_threads, reuse_freed_memory
from colorme_desktop.engines.registry import ENGINE_NAMES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="colorme-desktop", description="Colorize black-and-white photos.")
    parser.add_argument("image", nargs="?", help="photo to open")
    parser.add_argument("--hints", help="hints file to apply to the photo")
    parser.add_argument("--engine", choices=ENGINE_NAMES, help="default: the best available")
    args, qt_args = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    prefer_passive_threads()
    reuse_freed_memory()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("ColorMe Desktop")
    app.setOrganizationName("ColorMe")
    app.setDesktopFileName("colorme")

    # Imported after QApplication so the window shows before any engine module is imported.
    from colorme_desktop.ui.main_window import MainWindow

    window = MainWindow()
    if args.engine:
        window.set_engine(args.engine)
    window.show()

    def open_initial() -> None:
        # The engine (weights: most of a second) loads in the worker while the photo is read
        # and painted, rather than after.
        window.start_engine()
        requested = Path(args.image) if args.image else None
        # Work a crash left behind is offered first, also when a photo was asked for:
        # opening the photo would otherwise hide it until the next start without one.
        if window.offer_recovery(requested) or requested is None:
            return
        if window.open_path(requested, ask=False) and args.hints:
            window.open_hints(Path(args.hints))

    QTimer.singleShot(0, open_initial)
    _quit_on_sigterm(app, window)
    return app.exec()


def _quit_on_sigterm(app: QApplication, window) -> None:
    """Turn SIGTERM into ``window.terminate()``: hints kept for recovery, no half-written save.

    Python runs signal handlers only between bytecodes, and Qt's event loop is C++: a
    timer hands control back to Python a few times a second so the handler can run.
    """
    signal.signal(signal.SIGTERM, lambda *_: QTimer.singleShot(0, window.terminate))
    tick = QTimer(app, interval=250)  # owned by the application, so it lives as long
    tick.timeout.connect(lambda: None)
    tick.start()


if __name__ == "__main__":
    sys.exit(main())

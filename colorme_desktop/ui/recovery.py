"""Autosave of hint work to a recovery file, so a crash or kill loses nothing."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from colorme_desktop.core.hints import Hint, HintsFileError, hints_from_dict, hints_to_dict, parse_json
from colorme_desktop.core.imageio import ImageLoadError, read_image_size, write_text_atomically

log = logging.getLogger(__name__)


def recovery_path() -> Path:
    folder = os.environ.get("COLORME_RECOVERY_DIR") or QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppDataLocation)
    return Path(folder) / "recovery.json"


class RecoveryStore:
    """Writes happen on a short-lived thread; only the newest pending state is written."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or recovery_path()
        self._lock = threading.Lock()
        self._pending: str | None = None
        self._writer: threading.Thread | None = None

    def save(self, image_path: Path, hints: tuple[Hint, ...], image_size: tuple[int, int], page: int = 0) -> None:
        text = json.dumps({"image": str(image_path), "page": page, "hints": hints_to_dict(hints, image_size)})
        with self._lock:
            self._pending = text
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_pending, daemon=True)
                self._writer.start()

    def _write_pending(self) -> None:
        while True:
            with self._lock:
                text, self._pending = self._pending, None
            if text is None:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomically(self.path, text)
            except OSError as exc:
                log.warning("could not write the recovery file: %s", exc)

    def flush(self) -> None:
        writer = self._writer
        if writer is not None:
            writer.join()

    def clear(self) -> None:
        self.flush()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove the recovery file: %s", exc)

    def load(self) -> tuple[Path, tuple[Hint, ...], int] | None:
        """The saved (image path, hints, page), or None if there is nothing usable to restore.

        The hints are checked against the photo as it is now (it may have been replaced
        or turned into something that is not a photo at all), so a restore never opens
        what cannot be opened nor puts hints outside the image.
        """
        try:
            data = parse_json(self.path.read_bytes())
            image = Path(data["image"])
            page = data.get("page", 0)  # written since pages could be chosen (session 21)
            if not isinstance(page, int) or isinstance(page, bool) or page < 0:
                raise ValueError(f"page {page!r} is no page number")
            if not image.exists():
                return image, hints_from_dict(data["hints"]), page  # offer_recovery forgets it quietly
            hints = hints_from_dict(data["hints"], read_image_size(image, page))
            return image, hints, page
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, HintsFileError, ImageLoadError) as exc:
            log.warning("ignoring an unusable recovery file: %s", exc)
            return None

"""Reading any photo a user may have and writing results without ever damaging a file."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorme_desktop.core.color import chroma_of, luma

# Refuse images above this many pixels: a forged header can claim gigapixels and
# exhaust memory.  150 MP covers every camera a user is likely to have.
MAX_PIXELS = 150_000_000

# A colour photo whose chroma stays below this (grey levels) everywhere is treated as
# grey: scans of black-and-white prints are often saved as RGB.
_GREY_CHROMA_LEVELS = 3.0

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
                ".webp": "WEBP"}


class ImageLoadError(Exception):
    """The file cannot be used as a photo; the message says why, for the user."""


class ImageSaveError(Exception):
    """Writing failed; any existing file at the target was left as it was."""


@dataclass
class LoadedImage:
    grey: np.ndarray  # (H, W) uint8, BT.601 luma: what gets colorized
    rgb: np.ndarray | None  # (H, W, 3) uint8 when the source had colour, else None
    path: Path | None = None
    notes: list[str] = field(default_factory=list)  # things the user should know

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.grey.shape[1], self.grey.shape[0]

    @property
    def is_colour(self) -> bool:
        return self.rgb is not None


def _to_8bit_array(image: Image.Image) -> tuple[np.ndarray, bool]:
    """Return an 8-bit array and whether it is single-channel grey."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        data = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I") and data.max(initial=0) > 255 else 255.0
        if mode == "F":
            top = max(1.0, float(data.max(initial=1.0)))
        return np.clip(np.rint(data / top * 255.0), 0, 255).astype(np.uint8), True
    if mode in ("1", "L", "LA", "La"):
        return np.asarray(image.convert("L")), True
    if mode in ("RGBA", "PA", "RGBa") or (mode == "P" and "transparency" in image.info):
        # Composite on white: transparent areas of a photo are most often paper.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB")), False
    return np.asarray(image.convert("RGB")), False


def _read_16bit_rgb(path: Path) -> np.ndarray | None:
    """Pillow reads 16-bit RGB PNG/TIFF as 8-bit lossy or not at all; OpenCV reads it fully."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16 or decoded.ndim != 3:
        return None
    rgb16 = decoded[..., 2::-1] if decoded.shape[2] >= 3 else decoded
    return np.rint(rgb16.astype(np.float64) / 257.0).astype(np.uint8)


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Open a photo of any common kind and return its grey and, if it has one, its colour.

    EXIF orientation is applied, so coordinates are those of the image as the user sees it.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageLoadError(f"{path.name} is a folder, not an image file.")
    if not path.exists():
        raise ImageLoadError(f"{path} does not exist (was it moved or deleted?).")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageLoadError(
                        f"{path.name} claims to be {width} x {height} pixels, more than the "
                        f"{MAX_PIXELS // 1_000_000} megapixels ColorMe accepts.")
                if width < 1 or height < 1:
                    raise ImageLoadError(f"{path.name} has no pixels.")
                frames = getattr(image, "n_frames", 1)
                if frames > 1:
                    kind = "animation" if image.format in ("GIF", "PNG", "WEBP") else "multi-page file"
                    notes.append(f"{path.name} is an {kind} of {frames} frames; "
                                 "ColorMe uses the first one.")
                    image.seek(0)
                image.load()
                is_16bit_rgb = image.mode in ("RGB;16", "RGBA;16") or (
                    image.format in ("PNG", "TIFF") and image.mode in ("RGB", "RGBA")
                    and image.info.get("bits", 8) == 16)
                oriented = ImageOps.exif_transpose(image)
                array, is_grey = _to_8bit_array(oriented)
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise ImageLoadError(f"{path.name} is not an image ColorMe can read "
                                 "(unknown or damaged format).") from exc
        raise ImageLoadError(f"{path.name} is too large to open safely: {exc}") from exc
    except PermissionError as exc:
        raise ImageLoadError(f"No permission to read {path.name}.") from exc
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{path} disappeared before it could be read.") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageLoadError(f"{path.name} is damaged or incomplete and cannot be read ({exc}).") from exc
    except MemoryError as exc:
        raise ImageLoadError(f"{path.name} is too large for the available memory.") from exc
    if is_16bit_rgb:
        full = _read_16bit_rgb(path)
        if full is not None and full.shape == array.shape:
            array = full
    if is_grey:
        return LoadedImage(grey=np.ascontiguousarray(array), rgb=None, path=path, notes=notes)
    rgb = np.ascontiguousarray(array)
    if _looks_grey(rgb):
        return LoadedImage(grey=luma(rgb), rgb=None, path=path, notes=notes)
    return LoadedImage(grey=luma(rgb), rgb=rgb, path=path, notes=notes)


def _looks_grey(rgb: np.ndarray) -> bool:
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
    sample = rgb[::step, ::step]
    return float(np.abs(chroma_of(sample)).max(initial=0.0)) < _GREY_CHROMA_LEVELS


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask() can only be read by setting it, which is not safe while
# a save runs on another thread.
_UMASK = _read_umask()


def _replace_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through ``write`` to a temporary file beside ``path``, flush it to disk, then
    rename it over ``path``: a failure at any point leaves the old file intact and no
    temporary file behind.  Raises OSError.
    """
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # Keep the permissions of a file being overwritten; new files get the usual ones.
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise


def save_image(path: str | os.PathLike, rgb: np.ndarray, quality: int = 95) -> None:
    """Write ``rgb`` to ``path`` in the format its extension names, atomically."""
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        choices = ", ".join(sorted(SAVE_FORMATS))
        raise ImageSaveError(f"Cannot save as '{path.suffix or path.name}': choose one of {choices}.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ImageSaveError(f"The folder {folder} does not exist.")
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "TIFF":
        options = {"compression": "tiff_lzw"}
    try:
        _replace_atomically(path, lambda handle: Image.fromarray(rgb).save(handle, format=fmt, **options))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ImageSaveError(f"Saving {path.name} failed: {reason}. Nothing was overwritten.") from exc


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Same guarantee as ``save_image`` for small text files (hints, recovery)."""
    _replace_atomically(Path(path), lambda handle: handle.write(text.encode("utf-8")))

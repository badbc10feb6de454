"""Reading any photo a user may have and writing results without ever damaging a file."""

from __future__ import annotations

import errno
import glob
import logging
import os
import shutil
import stat
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorme_desktop.core.color import chroma_of, looks_toned, luma
from colorme_desktop.core.text import plural

log = logging.getLogger(__name__)

# Refuse images above this many pixels: a forged header can claim gigapixels and
# exhaust memory.  150 MP covers every camera a user is likely to have.
MAX_PIXELS = 150_000_000
# Pillow's own guard warns from 89.5 MP and fails from twice that, below our limit and
# before our check can run; ColorMe checks the header itself, so Pillow's guard is
# moved up to match rather than turned into an error.
Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, MAX_PIXELS)

# Peak memory per pixel of colorizing a photo (measured: 100 MP, levin and neural
# engines, CLI), and of only reading it.  A photo that will not fit in the memory that
# is free is refused up front: on Linux the alternative is the kernel killing ColorMe
# midway, with no message at all.
COLORIZE_BYTES_PER_PIXEL = 60
READ_BYTES_PER_PIXEL = 12

# A colour photo whose chroma stays below this (grey levels) everywhere is treated as
# grey: scans of black-and-white prints are often saved as RGB.
_GREY_CHROMA_LEVELS = 3.0

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
                ".webp": "WEBP"}


class ImageLoadError(Exception):
    """The file cannot be used as a photo; the message says why, for the user."""


class ImageSaveError(Exception):
    """Writing failed; any existing file at the target was left as it was."""


@dataclass(frozen=True)
class PhotoMetadata:
    """What a photo says about itself beyond its pixels, kept in what is saved from it: the
    resolution a scan was made at (600 dpi) and its EXIF (caption, date, camera, place).
    An archivist found both gone from a colorized scan (a walk-through, session 19)."""

    dpi: tuple[float, float] | None = None
    exif: bytes | None = None  # without the orientation tag: the pixels are already upright

    @classmethod
    def of(cls, image: Image.Image) -> PhotoMetadata:
        dpi = image.info.get("dpi")
        try:
            dpi = (float(dpi[0]), float(dpi[1])) if dpi and float(dpi[0]) > 0 and float(dpi[1]) > 0 else None
        except (TypeError, ValueError, IndexError):
            dpi = None  # a damaged header says nothing usable
        exif = None
        try:
            tags = Image.Exif()  # a copy: the image's own still has to turn it upright
            tags.load(image.getexif().tobytes())
            tags.pop(0x0112, None)  # orientation: ``load_image`` turns the pixels upright
            # Only its main directories go back (Pillow writes no thumbnail, which would
            # show the grey original in file browsers).
            exif = tags.tobytes() if len(tags) else None
        except Exception:  # noqa: BLE001 - damaged EXIF costs the EXIF, never the photo
            log.debug("EXIF not kept", exc_info=True)
        return cls(dpi=dpi, exif=exif)

    def save_options(self, fmt: str) -> dict:
        """Pillow's save options that carry this metadata in ``fmt``."""
        options: dict = {}
        if self.dpi and fmt in ("PNG", "JPEG", "TIFF"):  # WebP has no resolution field
            options["dpi"] = self.dpi
        if self.exif and fmt == "TIFF":
            # libtiff, which writes compressed TIFFs, refuses the EXIF sub-directories (camera
            # settings, the time taken): the main one (caption, date, author, copyright) goes.
            tags = Image.Exif()
            tags.load(self.exif)
            for pointer in (0x8769, 0x8825):  # the Exif and GPS sub-directories
                tags.pop(pointer, None)
            options["exif"] = tags.tobytes()
        elif self.exif:
            options["exif"] = self.exif
        return options


@dataclass
class LoadedImage:
    grey: np.ndarray  # (H, W) uint8, BT.601 luma: what gets colorized
    rgb: np.ndarray | None  # (H, W, 3) uint8 when the source had colour, else None
    path: Path | None = None
    notes: list[str] = field(default_factory=list)  # things the user should know
    # (H, W) uint8 opacity when the source had transparency (grey and rgb are composited on
    # white), else None: a save in a format that can hold it keeps it.
    alpha: np.ndarray | None = None
    metadata: PhotoMetadata = field(default_factory=PhotoMetadata)
    # A colour photo that looks like a toned black-and-white print (``color.looks_toned``):
    # judged here, off the GUI thread (22 ms at 24 MP), for the app and the CLI alike.
    toned: bool = False
    page: int = 0  # which page (from 0) of a multi-page file (a TIFF of several scans) this is
    pages: int = 1  # how many pages the file holds (an animation's frames are not pages)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.grey.shape[1], self.grey.shape[0]

    @property
    def is_colour(self) -> bool:
        return self.rgb is not None

    @property
    def page_note(self) -> str | None:
        """Which page this is, for a file of several; a folder run, which colorizes every
        page, says nothing of it."""
        if self.pages < 2:
            return None
        name = self.path.name if self.path is not None else "The file"
        return f"{name} holds {self.pages} pages; this is page {self.page + 1}."


def _on_white(image: Image.Image) -> tuple[Image.Image, np.ndarray | None]:
    """The image composited on white (RGBA), and its opacity (H, W) uint8 unless every pixel
    is opaque: transparent areas of a photo are most often paper, and what full transparency
    hides (left-overs of a cut-out) is not to be shown; a save that can hold it keeps it."""
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    composited = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return composited, (np.ascontiguousarray(alpha) if alpha.min() < 255 else None)


def _to_8bit_array(image: Image.Image) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """Return an 8-bit array, whether it is single-channel grey, and its opacity if it has
    transparency (``_on_white``)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # float32, in place: a float64 copy of a 24 MP scan was 192 MB (16-bit values are exact in float32).
        data = np.array(image, dtype=np.float32)
        top = 65535.0 if mode.startswith("I") and data.max(initial=0) > 255 else 255.0
        if mode == "F":
            top = max(1.0, float(data.max(initial=1.0)))
        data *= np.float32(255.0 / top)
        np.rint(data, out=data)
        return np.clip(data, 0, 255, out=data).astype(np.uint8), True, None
    if mode in ("LA", "La"):
        composited, alpha = _on_white(image)
        return np.asarray(composited.convert("L")), True, alpha
    if mode in ("1", "L"):
        return np.asarray(image if mode == "L" else image.convert("L")), True, None
    if mode in ("RGBA", "PA", "RGBa") or (mode == "P" and "transparency" in image.info):
        composited, alpha = _on_white(image)
        return np.asarray(composited.convert("RGB")), False, alpha
    # Already RGB: converting would only copy it (96 MB at 24 MP, beside the decoded one).
    return np.asarray(image if mode == "RGB" else image.convert("RGB")), False, None


def _decodes_16_bits(image: Image.Image) -> bool:
    """Whether the open (not yet loaded) ``image`` holds 16 bits per channel.  Pillow opens a
    16-bit RGB PNG or TIFF as 8-bit "RGB" and says so only in how it will decode the file
    (its raw mode, "RGB;16B"), not in ``mode`` or ``info``."""
    raw = [tile.args[0] if isinstance(tile.args, tuple) else tile.args for tile in image.tile]
    return any(isinstance(mode, str) and ";16" in mode for mode in raw) or image.info.get("bits") == 16


def _read_16bit_rgb(handle: BinaryIO) -> np.ndarray | None:
    """Pillow reads 16-bit RGB PNG/TIFF as 8-bit lossy or not at all; OpenCV reads it fully."""
    import cv2

    handle.seek(0)
    data = np.frombuffer(handle.read(), dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16 or decoded.ndim != 3:
        return None
    rgb16 = decoded[..., 2::-1] if decoded.shape[2] >= 3 else decoded
    # round(x / 257) in integers: the same bytes as in floating point, a quarter of the memory.
    return ((rgb16.astype(np.uint32) + 128) // 257).astype(np.uint8)


class NotARegularFileError(OSError):
    """The path is not a plain file one can read to its end; the message says what it is."""


def open_regular_file(path: Path) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (symbolic links followed).

    A named pipe would block the reader forever and a device never ends, so both are
    refused before they are opened; opening without blocking and checking the open file
    again closes the gap in which the path could be swapped for a pipe.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            raise NotARegularFileError(f"{path} is a link to {os.readlink(path)}, which does not exist.") from None
        raise NotARegularFileError(f"{path} does not exist (was it moved or deleted?).") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotARegularFileError(f"{path} is a symbolic link that leads back to itself.") from None
        raise
    _require_regular(path, info)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        _require_regular(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _require_regular(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFileError(f"{path.name} is {_kind_of(info.st_mode)}, not a file ColorMe can read.")


def available_memory() -> int | None:
    """Bytes the system can give this process without swapping; None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(name: str, width: int, height: int, bytes_per_pixel: int) -> None:
    needed = width * height * bytes_per_pixel
    free = available_memory()
    if free is not None and needed > free:
        raise ImageLoadError(
            f"{name} is {width} x {height} pixels ({width * height / 1e6:.0f} MP) and needs about "
            f"{needed / 2**30:.1f} GB of memory, but only {free / 2**30:.1f} GB is free; "
            "close other programs or use a smaller copy.")


# Formats whose frames are an animation's, not pages: a folder run colorizes their first
# frame only, where it colorizes every page of a multi-page file (a TIFF of scans).
ANIMATION_FORMATS = frozenset({"GIF", "PNG", "WEBP"})
PAGED_SUFFIXES = frozenset({".tif", ".tiff"})  # the files whose pages a folder run counts


def page_count(path: str | os.PathLike) -> int:
    """How many pages ``path`` holds (1 for one photo or an animation, and for a file that
    cannot be read: colorizing it says why).  Read from the header, cheaply: a folder run
    counts the pages of each TIFF it plans."""
    path = Path(path)
    try:
        with open_regular_file(path) as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                return _pages(image)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return 1


def _pages(image: Image.Image) -> int:
    """Pages of an open image: an animation's frames are not pages (its first one is used)."""
    return 1 if image.format in ANIMATION_FORMATS else max(1, getattr(image, "n_frames", 1))


def _turn_to_page(image: Image.Image, path: Path, page: int) -> int:
    """Seek the open ``image`` to ``page`` (from 0); how many pages it holds."""
    pages = _pages(image)
    if not 0 <= page < pages:
        raise ImageLoadError(f"{path.name} has {plural(pages, 'page')}; there is no page {page + 1}.")
    if page:
        image.seek(page)  # each page has its own size, mode and tags
    return pages


def load_image(path: str | os.PathLike, bytes_per_pixel: int = COLORIZE_BYTES_PER_PIXEL,
               page: int = 0) -> LoadedImage:
    """Open a photo of any common kind and return its grey and, if it has one, its colour.

    EXIF orientation is applied, so coordinates are those of the image as the user sees it.
    ``bytes_per_pixel`` is the memory the caller's whole job takes per pixel: a photo
    that cannot fit in the free memory is refused before it is decoded.  ``page`` (from 0)
    chooses a page of a multi-page file (or a frame of an animation).
    """
    path = Path(path)
    notes: list[str] = []
    try:
        handle = open_regular_file(path)
    except NotARegularFileError as exc:
        raise ImageLoadError(str(exc)) from None
    except PermissionError as exc:
        raise ImageLoadError(f"No permission to read {path.name}.") from exc
    except OSError as exc:
        raise ImageLoadError(f"Cannot open {path.name}: {exc.strerror or exc}.") from exc
    try:
        with handle, warnings.catch_warnings():
            # Our own limit below is the one that counts (see MAX_IMAGE_PIXELS above).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                pages = _turn_to_page(image, path, page)
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageLoadError(
                        f"{path.name} claims to be {width} x {height} pixels, more than the "
                        f"{MAX_PIXELS // 1_000_000} megapixels ColorMe accepts.")
                if width < 1 or height < 1:
                    raise ImageLoadError(f"{path.name} has no pixels.")
                _check_memory(path.name, width, height, bytes_per_pixel)
                frames = getattr(image, "n_frames", 1)
                if image.format in ANIMATION_FORMATS and frames > 1:
                    notes.append(f"{path.name} is an animation of {frames} frames; ColorMe uses the first one.")
                sixteen_bits = _decodes_16_bits(image)  # before load(), which forgets how
                image.load()
                is_16bit_rgb = image.mode in ("RGB;16", "RGBA;16") or (
                    image.format in ("PNG", "TIFF") and image.mode in ("RGB", "RGBA") and sixteen_bits)
                if is_16bit_rgb or image.mode.startswith("I;16"):
                    notes.append(f"{path.name} has 16 bits per channel; ColorMe colorizes and saves "
                                 "8 bits per channel.")
                metadata = PhotoMetadata.of(image)
                oriented = ImageOps.exif_transpose(image)
                array, is_grey, alpha = _to_8bit_array(oriented)
            if is_16bit_rgb and page == 0:  # OpenCV decodes a file's first page only
                full = _read_16bit_rgb(handle)
                if full is not None and full.shape == array.shape:
                    array = full
    except ImageLoadError:
        raise
    except UnidentifiedImageError as exc:
        if _is_empty(path):
            raise ImageLoadError(f"{path.name} is empty (0 bytes): there is no photo in it. "
                                 "It may not have finished copying or downloading.") from exc
        raise ImageLoadError(f"{path.name} is not an image ColorMe can read "
                             "(unknown or damaged format).") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{path.name} claims more than the {MAX_PIXELS // 1_000_000} megapixels "
                             "ColorMe accepts.") from exc
    except PermissionError as exc:
        raise ImageLoadError(f"No permission to read {path.name}.") from exc
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{path} disappeared before it could be read.") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        if "truncated" in str(exc):
            # Pillow's own words ("image file is truncated (7 bytes not processed)") count
            # what its last read left over, not what is missing, which misled a user.
            raise ImageLoadError(f"{path.name} is cut short: the file ends before the photo does. "
                                 "It may not have finished copying or downloading.") from exc
        raise ImageLoadError(f"{path.name} is damaged or incomplete and cannot be read ({exc}).") from exc
    except MemoryError as exc:
        raise ImageLoadError(f"{path.name} is too large for the available memory.") from exc
    where = {"path": path, "notes": notes, "alpha": alpha, "metadata": metadata, "page": page, "pages": pages}
    if is_grey:
        return LoadedImage(grey=np.ascontiguousarray(array), rgb=None, **where)
    rgb = np.ascontiguousarray(array)
    if _looks_grey(rgb):
        return LoadedImage(grey=luma(rgb), rgb=None, **where)
    return LoadedImage(grey=luma(rgb), rgb=rgb, toned=looks_toned(rgb), **where)


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def read_image_size(path: str | os.PathLike, page: int = 0) -> tuple[int, int]:
    """(width, height) of the photo (its ``page``) as ``load_image`` would return it, from
    its header where the format allows; raises ImageLoadError like ``load_image``."""
    path = Path(path)
    try:
        with open_regular_file(path) as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                _turn_to_page(image, path, page)
                width, height = image.size
                if image.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF orientation: turned a quarter
                    width, height = height, width
    except NotARegularFileError as exc:
        raise ImageLoadError(str(exc)) from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{path.name} cannot be read ({exc}).") from exc
    return width, height


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


def _target_of(path: Path) -> Path:
    """The file a save to ``path`` should replace: the target of a symbolic link (so the
    link survives), never a device, pipe or folder, never a read-only file.  Raises
    OSError whose strerror says, for the user, why the path is refused.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "it is a symbolic link that leads back to itself", str(path)) from None
        raise
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if info is None:
        return target
    if not stat.S_ISREG(info.st_mode):
        # Replacing it would swap a device node or a pipe for a plain file of its mode.
        raise OSError(errno.EINVAL, f"it is {_kind_of(info.st_mode)}, not a file", str(path))
    # Write permission is checked on the mode bits too: root passes os.access() for
    # everything, and a file someone made read-only is one they meant to keep.
    if not (info.st_mode & 0o222) or not os.access(target, os.W_OK):
        raise OSError(errno.EACCES, "it is read-only", str(path))
    return target


_PARTIAL_SUFFIX = ".part"


def _partial_prefix(path: Path) -> str:
    return f".{path.name}."


def remove_partial_saves(path: str | os.PathLike) -> None:
    """Delete what saves to ``path`` killed mid-write left beside it (a crashed worker process
    cannot clean up after itself).  Only for a path no save is writing to now."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    for stale in folder.glob(glob.escape(_partial_prefix(path)) + "*" + _PARTIAL_SUFFIX):
        try:
            stale.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: the next save still works


def _replace_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through ``write`` to a temporary file beside ``path``, flush it to disk, then
    rename it over ``path``: a failure at any point leaves the old file intact and no
    temporary file behind.  Raises OSError.
    """
    path = _target_of(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=_partial_prefix(path), suffix=_PARTIAL_SUFFIX, dir=folder)
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


def check_output_path(path: str | os.PathLike) -> Path:
    """Refuse an output path that cannot be saved to, before any time is spent on it.

    Returns the file that will really be written (the target of a symbolic link).
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        choices = ", ".join(sorted(SAVE_FORMATS))
        raise ImageSaveError(f"Cannot save as '{path.suffix or path.name}': choose one of {choices}.")
    try:
        target = _target_of(path)
    except OSError as exc:
        raise ImageSaveError(f"Cannot save to {path}: {exc.strerror or exc}.") from None
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ImageSaveError(f"The folder {folder} does not exist.")
    return target


def _disk_full_reason(folder: Path, exc: OSError, needed: int) -> str | None:
    """Name the disk when a save ran out of space.  Some encoders (libtiff) report only
    "encoder error -2", so the free space is looked at, not just the error number."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or (exc.errno is None and free is not None and free < needed):
        shown = f" ({free / 2**20:.1f} MB free)" if free is not None else ""
        return f"No space left on the disk holding {folder.resolve()}{shown}"
    return None


PNG_COMPRESS_LEVEL = 3


# Formats that hold transparency; JPEG does not, and gets the colours on white.
ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")


def save_image(path: str | os.PathLike, rgb: np.ndarray, quality: int = 95, alpha: np.ndarray | None = None,
               metadata: PhotoMetadata | None = None) -> None:
    """Write ``rgb`` to ``path`` in the format its extension names, atomically; with the
    source's ``alpha`` (``LoadedImage.alpha``) where the format can hold it, and its
    resolution and EXIF (``LoadedImage.metadata``)."""
    path = Path(path)
    target = check_output_path(path)
    fmt = SAVE_FORMATS[path.suffix.lower()]
    if alpha is not None and fmt in ALPHA_FORMATS:
        image = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        image = Image.fromarray(rgb)
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "TIFF":
        options = {"compression": "tiff_lzw"}
    if fmt == "PNG":
        # zlib level 3, not Pillow's 6: measured on a 6 MP result, 0.91 s instead of 2.8 s
        # for a file 2 % larger (busy 2-core machine); a 24 MP save then fits in 3 s.
        options = {"compress_level": PNG_COMPRESS_LEVEL}
    if metadata is not None:
        options.update(metadata.save_options(fmt))
    try:
        _replace_atomically(target, lambda handle: image.save(handle, format=fmt, **options))
    except OSError as exc:
        folder = target.parent if str(target.parent) else Path(".")
        reason = _disk_full_reason(folder, exc, rgb.nbytes) or exc.strerror or str(exc)
        raise ImageSaveError(f"Saving {path.name} failed: {reason}. Nothing was overwritten.") from exc


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Same guarantee as ``save_image`` for small text files (hints, recovery)."""
    _replace_atomically(Path(path), lambda handle: handle.write(text.encode("utf-8")))

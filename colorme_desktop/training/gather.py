"""Gather the training photos that ship inside packages into a cache folder outside git.

Sources and licences are those of ``shared/DATA.md``.  Debian packages are fetched with
``apt-get download`` and unpacked with ``dpkg -x`` into the cache (never installed); each
package's copyright file is kept beside what is extracted.  The packages reserved for
independent evaluation (foolbox, opencv-doc, palapeli-data) are never touched.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from colorme_desktop.core.color import resize_to_max_side
from colorme_desktop.core.metrics import colourfulness

log = logging.getLogger(__name__)

RESERVED_FOR_EVALUATION = frozenset({"foolbox", "opencv-doc", "palapeli-data"})
DEFAULT_CACHE = Path(os.environ.get("COLORME_CACHE", Path.home() / ".cache" / "colorme"))
STORED_MAX_SIDE = 1024  # photos are kept at this size; training crops come from them
MIN_SIDE = 200
MIN_COLOURFULNESS = 12.0  # below this a photo is near-grey and teaches nothing about colour


@dataclass(frozen=True)
class Source:
    package: str
    licence: str
    pattern: str = ""  # glob inside the unpacked package
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()  # when given, only names containing one of these
    reader: str = "file"  # file | edj | pzl | gcompris


SOURCES = (
    Source("kphotoalbum", "GPL-2+", "usr/share/kphotoalbum/demo/*.jpg"),
    Source("tuxpaint-data", "GPL-2+", "usr/share/tuxpaint/templates/*.jpg"),
    Source("lomiri-wallpapers-16.04", "CC-BY / CC-BY-SA / CC0 (per file, see copyright)",
           "usr/share/backgrounds/*.jpg", exclude=("greentock", "umang")),
    Source("mate-backgrounds", "GPL-2+", "usr/share/backgrounds/mate/nature/*.jpg"),
    Source("lxqt-themes", "CC-BY-SA-3.0", "usr/share/lxqt/wallpapers/*",
           include=("Butterfly-Kenneth", "Valendas", "after-the-rain", "appleflower", "butterfly.png",
                    "cloud", "drop", "flowers", "fog")),
    Source("plasma-workspace-wallpapers", "LGPL-3", "usr/share/wallpapers/*/contents/images/*",
           include=("/BytheWater/", "/ColdRipple/", "/ColorfulCups/", "/DarkestHour/", "/EveningGlow/",
                    "/FallenLeaf/", "/Grey/", "/OneStandsOut/", "/Path/", "/summer_1am/")),
    Source("enlightenment-data", "BSD-2", "usr/share/enlightenment/data/backgrounds/*.edj", reader="edj"),
    Source("jigzo-data", "GPL-2+", "usr/share/games/jigzo/puzzles/*/*.pzl", exclude=("pingu", "tux",
                                                                                     "penguin"),
           reader="pzl"),
    Source("python3-skimage", "BSD-3", "usr/lib/python3/dist-packages/skimage/data/*",
           include=("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")),
    Source("sddm-theme-maldives", "CC-BY-SA-3.0", "usr/share/sddm/themes/maldives/background.jpg"),
    Source("gcompris-qt-data", "GPL-3+", "usr/share/gcompris-qt/rcc/*.rcc", reader="gcompris"),
)

_GCOMPRIS_FOLDERS = ("/categorization/resource/board/", "/categorization/", "/clickgame/resource/sea",
                     "/erase/resource/", "/explore_farm_animals/", "/explore_monuments/",
                     "/explore_world_animals/")
_GCOMPRIS_SKIP = ("/lang/", "/paintings/", "/details/", "/voices", "icon", "/babyshapes/")


def fetch_package(package: str, cache: Path) -> Path:
    """Download and unpack one Debian package into the cache; return its root."""
    if package in RESERVED_FOR_EVALUATION:
        raise ValueError(f"{package} is reserved for evaluation and must not be used for training")
    root = cache / "extract" / package
    if root.is_dir():
        return root
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
    tmp = root.with_suffix(".part")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["dpkg", "-x", str(found[-1]), str(tmp)], check=True)
    tmp.rename(root)
    return root


def _carve_jpegs(data: bytes) -> Iterator[bytes]:
    """Yield the JPEG streams embedded in a container, by their SOI/EOI markers."""
    start = data.find(b"\xff\xd8\xff")
    while start != -1:
        end = data.find(b"\xff\xd9", start)
        # Embedded thumbnails (EXIF) also end in FFD9: extend until the stream decodes.
        while end != -1:
            candidate = data[start:end + 2]
            try:
                with Image.open(io.BytesIO(candidate)) as im:
                    im.load()
                yield candidate
                break
            except Exception:  # noqa: BLE001 - not a whole stream yet, look further
                end = data.find(b"\xff\xd9", end + 2)
        start = data.find(b"\xff\xd8\xff", start + 3 if end == -1 else end + 2)


def _open_bytes(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _iter_source(source: Source, root: Path) -> Iterator[tuple[str, Callable[[], Image.Image]]]:
    paths = sorted(glob.glob(str(root / source.pattern)))
    if source.reader == "gcompris":
        yield from _iter_gcompris(paths)
        return
    for path in paths:
        if any(word in path for word in source.exclude):
            continue
        if source.include and not any(word in path for word in source.include):
            continue
        if source.reader == "file":
            yield path, lambda path=path: _open_bytes(Path(path).read_bytes())
        else:
            streams = list(_carve_jpegs(Path(path).read_bytes()))
            if streams:
                biggest = max(streams, key=lambda s: _open_bytes(s).size[0])
                yield path, lambda biggest=biggest: _open_bytes(biggest)


def _iter_gcompris(rcc_files: list[str]) -> Iterator[tuple[str, Callable[[], Image.Image]]]:
    # Qt reads its own resource bundles; PySide6 is already a dependency of the app.
    from PySide6.QtCore import QDirIterator, QFile, QIODevice, QResource

    for path in rcc_files:
        QResource.registerResource(path)
    walker = QDirIterator(":/gcompris", QDirIterator.IteratorFlag.Subdirectories)
    names = []
    while walker.hasNext():
        name = walker.next()
        if not name.lower().endswith((".webp", ".jpg", ".jpeg", ".png")):
            continue
        if any(word in name for word in _GCOMPRIS_SKIP):
            continue
        if any(word in name for word in _GCOMPRIS_FOLDERS):
            names.append(name)
    for name in sorted(names):
        handle = QFile(name)
        handle.open(QIODevice.OpenModeFlag.ReadOnly)
        data = bytes(handle.readAll().data())
        handle.close()
        yield name, lambda data=data: _open_bytes(data)


def _sklearn_images() -> Iterator[tuple[str, Callable[[], Image.Image]]]:
    import sklearn.datasets

    folder = Path(sklearn.datasets.__file__).parent / "images"
    for name in ("china.jpg", "flower.jpg"):
        yield f"sklearn/{name}", lambda name=name: _open_bytes((folder / name).read_bytes())


def _average_hash(rgb: np.ndarray) -> int:
    small = np.asarray(Image.fromarray(rgb).convert("L").resize((17, 16), Image.Resampling.BILINEAR),
                       dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def _to_rgb(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3]
        if (alpha < 250).mean() > 0.02:
            raise ValueError("has transparency (a cut-out, not a photo)")
    return np.asarray(image.convert("RGB"))


def gather(cache: Path = DEFAULT_CACHE, val_fraction: float = 0.1) -> list[dict]:
    """Collect, filter, de-duplicate and split the photos; write ``photos/`` and the manifest."""
    photos_dir = cache / "photos"
    photos_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    hashes: list[int] = []
    dropped = {"small": 0, "grey": 0, "duplicate": 0, "unreadable": 0}

    def consider(package: str, licence: str, origin: str, opener: Callable[[], Image.Image]) -> None:
        try:
            rgb = _to_rgb(opener())
        except Exception as exc:  # noqa: BLE001 - a bad file in a package is skipped, not fatal
            log.info("skip %s: %s", origin, exc)
            dropped["unreadable"] += 1
            return
        if min(rgb.shape[:2]) < MIN_SIDE:
            dropped["small"] += 1
            return
        stored = resize_to_max_side(rgb, STORED_MAX_SIDE)
        if colourfulness(stored) < MIN_COLOURFULNESS:
            dropped["grey"] += 1
            return
        h = _average_hash(stored)
        if any(bin(h ^ other).count("1") <= 12 for other in hashes):  # of 256 bits
            dropped["duplicate"] += 1
            return
        hashes.append(h)
        digest = hashlib.sha1(stored.tobytes()).hexdigest()
        name = f"{digest[:16]}.png"
        Image.fromarray(stored).save(photos_dir / name, optimize=False, compress_level=1)
        entries.append({"file": name, "package": package, "licence": licence, "origin": origin,
                        "original_size": [int(rgb.shape[1]), int(rgb.shape[0])],
                        "split": "val" if int(digest[:8], 16) % 1000 < val_fraction * 1000 else "train"})

    for source in SOURCES:
        root = fetch_package(source.package, cache)
        for copyright_file in root.glob("usr/share/doc/*/copyright"):
            shutil.copy(copyright_file, cache / "extract" / f"{source.package}.copyright")
        count_before = len(entries)
        for origin, opener in _iter_source(source, root):
            consider(source.package, source.licence, origin.replace(str(root), source.package), opener)
        log.info("%s: %d photos", source.package, len(entries) - count_before)
    for origin, opener in _sklearn_images():
        consider("scikit-learn (PyPI)", "CC-BY-2.0", origin, opener)
    manifest = {"photos": entries, "dropped": dropped}
    (cache / "manifest.json").write_text(json.dumps(manifest, indent=1))
    log.info("kept %d photos (%d validation); dropped %s", len(entries),
             sum(e["split"] == "val" for e in entries), dropped)
    return entries


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    gather(args.cache)


if __name__ == "__main__":
    main()

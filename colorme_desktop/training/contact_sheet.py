"""A contact sheet to look at, not just measure: truth | automatic | 5 hints | 20 hints.

    python -m colorme_desktop.training.contact_sheet FOLDER --out docs/contact-sheet.jpg [--engine semantic]

Photos are taken evenly across FOLDER's sub-folders (sources); hints are the evaluation's
simulated 5x5 true-colour patches, drawn as small white-ringed dots on the hinted cells
so a viewer can tell what was asked from what was guessed.
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from colorme_desktop.core.color import compose, luma, resize_to_max_side
from colorme_desktop.core.imageio import load_image
from colorme_desktop.training.evaluate import list_photos, simulate_eval_hints

COLUMNS = (("truth", None), ("automatic", 0), ("5 hints", 5), ("20 hints", 20))
TILE = 240


def pick_photos(folder: Path, count: int) -> list[Path]:
    """``count`` photos spread evenly over the list (which is sorted by source)."""
    photos = list_photos(folder)
    step = max(1, len(photos) / count)
    return [photos[int(i * step)] for i in range(min(count, len(photos)))]


def _tile(rgb: np.ndarray) -> Image.Image:
    image = Image.fromarray(rgb)
    image.thumbnail((TILE, TILE), Image.Resampling.LANCZOS)
    return image


def make_sheet(photos: list[Path], colorize, max_side: int = 512) -> Image.Image:
    header = 24
    rows = [_row(path, colorize, max_side) for path in photos]
    # Each row is as tall as its photo's tiles: a wide photo leaves no blank band below it.
    sheet = Image.new("RGB", (TILE * len(COLUMNS), header + sum(r[0].height for r in rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, (title, _) in enumerate(COLUMNS):
        draw.text((c * TILE + 8, 6), title, fill="black")
    top = header
    for path, tiles in zip(photos, rows):
        for c, tile in enumerate(tiles):
            sheet.paste(tile, (c * TILE, top))
        draw.text((4, top + 4), f"{path.parent.name}", fill="white", stroke_width=2, stroke_fill="black")
        top += tiles[0].height
    return sheet


def _row(path: Path, colorize, max_side: int) -> list[Image.Image]:
    """One photo's tiles, one per column, the simulated hints marked on them."""
    rgb = resize_to_max_side(load_image(path).rgb, max_side)
    grey = luma(rgb)
    seed = zlib.crc32(path.name.encode())
    tiles = []
    for _, count in COLUMNS:
        hints = [] if count is None else simulate_eval_hints(rgb, count, seed + count)
        shown = rgb if count is None else compose(grey, colorize(grey, hints))
        tile = _tile(shown)
        scale = tile.width / rgb.shape[1]
        marks = ImageDraw.Draw(tile)
        for hint in hints:
            x, y = hint.points[0][0] * scale, hint.points[0][1] * scale
            marks.ellipse((x - 3, y - 3, x + 3, y + 3), fill=hint.color, outline="white")
        tiles.append(tile)
    return tiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--engine", default=None, help="semantic, neural or levin (default: the app's)")
    parser.add_argument("--photos", type=int, default=16)
    args = parser.parse_args()
    from colorme_desktop.engines.registry import create_engine

    engine, note = create_engine(args.engine)
    if note:
        parser.error(note)
    sheet = make_sheet(pick_photos(args.folder, args.photos), engine.colorize)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=70)


if __name__ == "__main__":
    main()

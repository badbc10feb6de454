"""A hints file at the point limit, colorized from the command line: the limit ColorMe
accepts should also be something it finishes in seconds.

Writes a 12 MP grey photo and a file of MAX_POINTS_TOTAL point hints into a temporary
folder, then times ``colorme colorize`` (parsing, rasterising, solving, saving) per engine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from colorme_desktop.cli import main as colorme
from colorme_desktop.core.hints import MAX_POINTS_TOTAL, rasterize
from colorme_desktop.core.imageio import load_image

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "sample" / "summer-palace-grey.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=4000, help="long side of the photo (4000: 12 MP)")
    parser.add_argument("--engines", default="levin,neural")
    args = parser.parse_args()
    grey = load_image(SAMPLE).grey
    scale = args.side / max(grey.shape)
    grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    h, w = grey.shape
    rng = np.random.default_rng(0)
    points = rng.uniform(0, [w, h], (MAX_POINTS_TOTAL, 2))
    colours = rng.integers(0, 256, (MAX_POINTS_TOTAL, 3))
    hints = [{"x": round(float(x), 2), "y": round(float(y), 2), "color": "#{:02x}{:02x}{:02x}".format(*c),
              "radius": 2} for (x, y), c in zip(points, colours)]
    with tempfile.TemporaryDirectory() as folder:
        photo, hints_file = Path(folder) / "photo.png", Path(folder) / "hints.json"
        cv2.imwrite(str(photo), grey)
        hints_file.write_text(json.dumps({"version": 1, "image_size": [w, h], "hints": hints}))
        print(f"photo {w} x {h}, {MAX_POINTS_TOTAL} point hints")
        from colorme_desktop.core.hints import load_hints_file

        start = time.perf_counter()
        loaded = load_hints_file(hints_file, (w, h))
        print(f"read and check the file: {time.perf_counter() - start:.2f} s")
        start = time.perf_counter()
        rasterize(loaded, (256, round(256 * h / w)), scale=256 / w)
        print(f"rasterise at the working size: {time.perf_counter() - start:.2f} s")
        for engine in args.engines.split(","):
            start = time.perf_counter()
            code = colorme(["colorize", str(photo), "-o", str(Path(folder) / f"{engine}.png"),
                            "--hints", str(hints_file), "--engine", engine])
            print(f"colorme colorize --engine {engine}: {time.perf_counter() - start:.1f} s (exit {code})")


if __name__ == "__main__":
    main()

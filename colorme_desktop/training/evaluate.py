"""Measure colorization quality on a folder of colour photos (``colorme eval``).

For each photo and each N, N hints are simulated as uniformly random points whose
colour is the mean true colour of the 5x5 patch around them (radius 2), seeded per photo
so every engine sees the same hints.  PSNR is over 8-bit RGB per image, then averaged.
Colourfulness (Hasler & Suesstrunk) is reported for N = 0 against the true photos.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from colorme_desktop.core.color import compose, grey_to_rgb, luma, resize_to_max_side
from colorme_desktop.core.hints import Hint, point_hint
from colorme_desktop.core.imageio import ImageLoadError, load_image
from colorme_desktop.core.metrics import colourfulness, psnr

log = logging.getLogger(__name__)

HINT_COUNTS = (0, 1, 2, 5, 10, 20, 50)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}

Colorizer = Callable[[np.ndarray, Sequence[Hint]], np.ndarray]  # grey, hints -> chroma


def simulate_eval_hints(rgb: np.ndarray, count: int, seed: int) -> list[Hint]:
    h, w = rgb.shape[:2]
    rng = np.random.default_rng(seed)
    hints = []
    for _ in range(count):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        patch = rgb[max(0, y - 2):y + 3, max(0, x - 2):x + 3].reshape(-1, 3)
        colour = tuple(int(v) for v in np.rint(patch.mean(axis=0)))
        hints.append(point_hint(x + 0.5, y + 0.5, colour, radius=2))
    return hints


@dataclass
class EvalResult:
    psnr: dict[str, dict[int, float]] = field(default_factory=dict)  # engine -> N -> mean dB
    colourfulness: dict[str, float] = field(default_factory=dict)  # engine (and "truth") at N = 0
    images: int = 0

    def table(self) -> str:
        counts = sorted(next(iter(self.psnr.values())).keys()) if self.psnr else []
        lines = ["| engine | " + " | ".join(f"N={n}" for n in counts) + " | colourfulness N=0 |",
                 "|---" * (len(counts) + 2) + "|"]
        for name, row in self.psnr.items():
            cells = " | ".join(f"{row[n]:.2f}" for n in counts)
            lines.append(f"| {name} | {cells} | {self.colourfulness.get(name, float('nan')):.1f} |")
        lines.append("| true photos | " + " | ".join("" for _ in counts)
                     + f" | {self.colourfulness.get('truth', float('nan')):.1f} |")
        return "\n".join(lines) + f"\n\n{self.images} images, PSNR in dB (RGB, 8-bit)."


def list_photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def evaluate(photos: Sequence[Path], engines: dict[str, Colorizer], counts: Sequence[int] = HINT_COUNTS,
             max_side: int | None = None) -> EvalResult:
    sums = {name: {n: [] for n in counts} for name in ["grey", *engines]}
    colour = {name: [] for name in ["truth", "grey", *engines]}
    used = 0
    for path in photos:
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            log.warning("skipped: %s", exc)
            continue
        if image.rgb is None:
            log.info("skipped %s: it has no colour to compare with", path.name)
            continue
        rgb = resize_to_max_side(image.rgb, max_side) if max_side else image.rgb
        grey = luma(rgb)
        used += 1
        seed = zlib.crc32(path.name.encode())
        colour["truth"].append(colourfulness(rgb))
        grey_psnr = psnr(grey_to_rgb(grey), rgb)
        colour["grey"].append(colourfulness(grey_to_rgb(grey)))
        for n in counts:
            sums["grey"][n].append(grey_psnr)
            hints = simulate_eval_hints(rgb, n, seed + n)
            for name, run in engines.items():
                result = compose(grey, run(grey, hints))
                sums[name][n].append(psnr(result, rgb))
                if n == 0:
                    colour[name].append(colourfulness(result))
        log.info("%s done (%d)", path.name, used)
    result = EvalResult(images=used)
    for name, row in sums.items():
        result.psnr[name] = {n: float(np.mean(v)) if v else float("nan") for n, v in row.items()}
    result.colourfulness = {k: float(np.mean(v)) if v else float("nan") for k, v in colour.items()}
    return result


def plot(result: EvalResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, row in result.psnr.items():
        counts = sorted(row)
        axes.plot(range(len(counts)), [row[n] for n in counts], marker="o", label=name)
        axes.set_xticks(range(len(counts)), [str(n) for n in counts])
    axes.set_xlabel("number of hints")
    axes.set_ylabel("PSNR (dB)")
    axes.set_title(f"ColorMe evaluation, {result.images} photos")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_report(result: EvalResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.md").write_text(result.table() + "\n")
    (out / "eval.json").write_text(json.dumps({"psnr": result.psnr, "colourfulness": result.colourfulness,
                                               "images": result.images}, indent=1))
    plot(result, out / "eval.png")

"""Measure colorization quality on a folder of colour photos (``colorme eval``).

For each photo and each N, N hints are simulated as uniformly random points whose
colour is the mean true colour of the 5x5 patch around them (radius 2), seeded per photo
so every engine sees the same hints.  PSNR is over 8-bit RGB per image, then averaged.
Colourfulness (Hasler & Suesstrunk) is reported for N = 0 against the true photos.

Spill measures whether one hint colours its object or the photo: for K random single
hints per photo (the same 5x5 true-colour patches), with R0 the result without hints and
R1 the result with the hint, spill is the mean chroma change |R1 - R0| over the pixels
whose true chroma differs from the hinted patch's by more than 20 levels, divided by the
change the hint asked for at its own patch, |hint - R0| (hints asking for less than 8
levels are skipped).  "Achieved" is the share of the asked change that R1 makes at the
hint's patch (the projection of R1 - R0 on hint - R0).  Results are also reported per
source: the name of the folder each photo lies in.

Users paint strokes, not 5x5 dots, so spill is also measured for strokes: from a random
point, straight on in a random direction while the true colour stays its start's (within
``STROKE_SAME_LEVELS``), up to ``STROKE_MAX_SHARE`` of the long side; its colour the mean
true colour under it, its patch the 5x5 patches along it.  (A stroke's points once weighed
eight times or more what a dot does in the far reach, which the dots' spill could not see:
session 18.)

A hint added to others should colour its own thing too, not make the earlier ones reach
further: walk-throughs (sessions 18-20) saw a building front redden a little more with each
later hint painted elsewhere.  So spill is also measured for a hint added to
``LATER_AFTER`` others (random dots, as for PSNR): R0 is the result with those, R1 with the
new one too, and the measure is the same.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from colorme_desktop.core.color import chroma_of, chroma_of_color, compose, grey_to_rgb, luma, resize_to_max_side
from colorme_desktop.core.hints import Hint, patch_mean, point_hint
from colorme_desktop.core.imageio import ImageLoadError, load_image
from colorme_desktop.core.metrics import colourfulness, psnr

log = logging.getLogger(__name__)

HINT_COUNTS = (0, 1, 2, 5, 10, 20, 50)
SPILL_HINTS = 3  # single hints per photo for the spill measure
SPILL_OTHER_LEVELS = 20.0  # pixels whose true chroma differs this much are "not the hinted thing"
SPILL_MIN_ASK = 8.0  # hints asking for less chroma change than this say nothing about spill
STROKE_HINTS = 3  # single strokes per photo for the strokes' spill
STROKE_MAX_SHARE = 0.08  # of the photo's long side: a hand's stroke along one thing
STROKE_SAME_LEVELS = 10.0  # chroma levels from its start at which a stroke ends
STROKE_STEP = 2.0  # pixels between a stroke's points
STROKE_MIN_POINTS = 4  # a shorter one is a dot, measured already
STROKE_TRIES = 20  # starting points tried per stroke
LATER_HINTS = 3  # hints per photo added to others, for the later hint's spill
LATER_AFTER = 9  # ... to this many: the spill of a tenth hint
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


def simulate_eval_stroke(rgb: np.ndarray, seed: int) -> Hint | None:
    """A stroke along one colour of ``rgb`` (the module's docstring); None if none is found."""
    h, w = rgb.shape[:2]
    rng = np.random.default_rng(seed)
    chroma = chroma_of(rgb)
    longest = STROKE_MAX_SHARE * max(h, w)
    for _ in range(STROKE_TRIES):
        x, y = float(rng.integers(0, w)) + 0.5, float(rng.integers(0, h)) + 0.5
        angle = rng.uniform(0.0, 2.0 * np.pi)
        dx, dy = STROKE_STEP * np.cos(angle), STROKE_STEP * np.sin(angle)
        start = patch_mean(chroma, x, y)
        points = [(x, y)]
        while len(points) * STROKE_STEP < longest:
            x, y = x + dx, y + dy
            if not (0 <= x < w and 0 <= y < h) or np.linalg.norm(patch_mean(chroma, x, y) - start) > STROKE_SAME_LEVELS:
                break
            points.append((x, y))
        if len(points) >= STROKE_MIN_POINTS:
            colour = np.mean([patch_mean(rgb, px, py) for px, py in points], axis=0)
            return Hint(tuple(points), tuple(int(v) for v in np.rint(colour)), 2.0)
    return None


def _under(hint: Hint, shape: tuple[int, ...]) -> np.ndarray:
    """(H, W) bool: the 5x5 patches around a hint's points, where it asks for its colour."""
    under = np.zeros(shape[:2], dtype=bool)
    for px, py in hint.points:
        x, y = int(px), int(py)
        under[max(0, y - 2):y + 3, max(0, x - 2):x + 3] = True
    return under


@dataclass
class EvalResult:
    psnr: dict[str, dict[int, float]] = field(default_factory=dict)  # engine -> N -> mean dB
    colourfulness: dict[str, float] = field(default_factory=dict)  # engine (and "truth") at N = 0
    images: int = 0
    spill: dict[str, float] = field(default_factory=dict)  # engine -> mean spill
    achieved: dict[str, float] = field(default_factory=dict)  # engine -> mean achieved share
    stroke_spill: dict[str, float] = field(default_factory=dict)  # the same for single strokes
    stroke_achieved: dict[str, float] = field(default_factory=dict)
    later_spill: dict[str, float] = field(default_factory=dict)  # the same for a hint added to LATER_AFTER
    later_achieved: dict[str, float] = field(default_factory=dict)
    per_source: dict[str, EvalResult] = field(default_factory=dict)  # folder name -> its own result

    def table(self) -> str:
        counts = sorted(next(iter(self.psnr.values())).keys()) if self.psnr else []
        lines = ["| engine | " + " | ".join(f"N={n}" for n in counts)
                 + " | colourfulness N=0 | spill | achieved | stroke spill | stroke achieved"
                 + f" | spill of hint {LATER_AFTER + 1} | achieved |",
                 "|---" * (len(counts) + 8) + "|"]
        for name, row in self.psnr.items():
            cells = " | ".join(f"{row[n]:.2f}" for n in counts)
            spill = f"{self.spill[name]:.3f} | {self.achieved[name]:.2f}" if name in self.spill else " | "
            for spills, achieved in ((self.stroke_spill, self.stroke_achieved),
                                     (self.later_spill, self.later_achieved)):
                spill += f" | {spills[name]:.3f} | {achieved[name]:.2f}" if name in spills else " |  | "
            lines.append(f"| {name} | {cells} | {self.colourfulness.get(name, float('nan')):.1f} | {spill} |")
        lines.append("| true photos | " + " | ".join("" for _ in counts)
                     + f" | {self.colourfulness.get('truth', float('nan')):.1f} | | | | | | |")
        return "\n".join(lines) + f"\n\n{self.images} images, PSNR in dB (RGB, 8-bit)."

    def report(self) -> str:
        """The whole table, then one per source."""
        parts = [self.table()]
        for source, result in sorted(self.per_source.items()):
            parts.append(f"### {source}\n\n{result.table()}")
        return "\n\n".join(parts)


def spill_of(colorize: Colorizer, grey: np.ndarray, rgb: np.ndarray, base: np.ndarray, seed: int,
             count: int = SPILL_HINTS) -> list[tuple[float, float]]:
    """(spill, achieved) for ``count`` random single hints; ``base`` is the result without hints."""
    return _spill_of_each(colorize, grey, rgb, base, _single_hints(rgb, seed, count))


def _single_hints(rgb: np.ndarray, seed: int, count: int) -> list[Hint]:
    """The hints whose spill is measured, alone (``spill_of``) and added to others (``later_spill_of``)."""
    return [simulate_eval_hints(rgb, 1, seed * 7 + k)[0] for k in range(count)]


def stroke_spill_of(colorize: Colorizer, grey: np.ndarray, rgb: np.ndarray, base: np.ndarray, seed: int,
                    count: int = STROKE_HINTS) -> list[tuple[float, float]]:
    """(spill, achieved) for ``count`` random single strokes (``simulate_eval_stroke``)."""
    strokes = (simulate_eval_stroke(rgb, seed * 11 + k + 1) for k in range(count))
    return _spill_of_each(colorize, grey, rgb, base, [s for s in strokes if s is not None])


def later_spill_of(colorize: Colorizer, grey: np.ndarray, rgb: np.ndarray, seed: int,
                   count: int = LATER_HINTS, after: int = LATER_AFTER) -> list[tuple[float, float]]:
    """(spill, achieved) for ``count`` random hints, each added to the same ``after`` others."""
    earlier = simulate_eval_hints(rgb, after, seed * 13 + 5)
    base = compose(grey, colorize(grey, earlier))
    return _spill_of_each(colorize, grey, rgb, base, _single_hints(rgb, seed, count), earlier)


def _spill_of_each(colorize: Colorizer, grey: np.ndarray, rgb: np.ndarray, base: np.ndarray,
                   hints: Sequence[Hint], earlier: Sequence[Hint] = ()) -> list[tuple[float, float]]:
    """(spill, achieved) of each hint alone, or added to ``earlier`` (``base`` is the result
    without it; the module's docstring)."""
    true_chroma = chroma_of(rgb)
    base_chroma = chroma_of(base)
    measured = []
    for hint in hints:
        under = _under(hint, rgb.shape)
        wanted = np.array(chroma_of_color(hint.color))
        ask = wanted - base_chroma[under].mean(axis=0)
        if np.linalg.norm(ask) < SPILL_MIN_ASK:
            continue
        other = np.linalg.norm(true_chroma - wanted, axis=-1) > SPILL_OTHER_LEVELS
        if not other.any():
            continue
        changed = chroma_of(compose(grey, colorize(grey, [*earlier, hint]))) - base_chroma
        spill = float(np.linalg.norm(changed[other], axis=-1).mean() / np.linalg.norm(ask))
        achieved = float(changed[under].mean(axis=0) @ ask / (ask @ ask))
        measured.append((spill, achieved))
    return measured


def list_photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def evaluate(photos: Sequence[Path], engines: dict[str, Colorizer], counts: Sequence[int] = HINT_COUNTS,
             max_side: int | None = None, spill_hints: int = SPILL_HINTS,
             stroke_hints: int = STROKE_HINTS, later_hints: int = LATER_HINTS) -> EvalResult:
    """Mean PSNR per engine and hint count, colourfulness, spill; overall and per source folder."""
    rows: list[dict] = []  # one per photo: its source and every measure
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
        seed = zlib.crc32(path.name.encode())
        row = {"source": path.parent.name, "psnr": {"grey": {n: psnr(grey_to_rgb(grey), rgb) for n in counts}},
               "colour": {"truth": colourfulness(rgb), "grey": colourfulness(grey_to_rgb(grey))}, "spill": {},
               "stroke_spill": {}, "later_spill": {}}
        for name, run in engines.items():
            row["psnr"][name] = {}
            for n in counts:
                result = compose(grey, run(grey, simulate_eval_hints(rgb, n, seed + n)))
                row["psnr"][name][n] = psnr(result, rgb)
                if n == 0:
                    row["colour"][name] = colourfulness(result)
                    base = result
            if (spill_hints or stroke_hints) and 0 not in counts:
                base = compose(grey, run(grey, []))
            if spill_hints:
                row["spill"][name] = spill_of(run, grey, rgb, base, seed, spill_hints)
            if stroke_hints:
                row["stroke_spill"][name] = stroke_spill_of(run, grey, rgb, base, seed, stroke_hints)
            if later_hints:
                row["later_spill"][name] = later_spill_of(run, grey, rgb, seed, later_hints)
        rows.append(row)
        log.info("%s done (%d)", path.name, len(rows))
    result = _summarise(rows, ["grey", *engines], counts)
    sources = sorted({row["source"] for row in rows})
    if len(sources) > 1:
        result.per_source = {s: _summarise([r for r in rows if r["source"] == s], ["grey", *engines], counts)
                             for s in sources}
    return result


def _summarise(rows: list[dict], names: list[str], counts: Sequence[int]) -> EvalResult:
    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    result = EvalResult(images=len(rows))
    result.psnr = {name: {n: mean([r["psnr"][name][n] for r in rows]) for n in counts} for name in names}
    result.colourfulness = {name: mean([r["colour"][name] for r in rows if name in r["colour"]])
                            for name in ["truth", *names]}
    for name in names:
        for key, spill, achieved in (("spill", result.spill, result.achieved),
                                     ("stroke_spill", result.stroke_spill, result.stroke_achieved),
                                     ("later_spill", result.later_spill, result.later_achieved)):
            pairs = [pair for r in rows for pair in r[key].get(name, [])]
            if pairs:
                spill[name] = mean([p[0] for p in pairs])
                achieved[name] = mean([p[1] for p in pairs])
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


def _as_json(result: EvalResult) -> dict:
    return {"psnr": result.psnr, "colourfulness": result.colourfulness, "images": result.images,
            "spill": result.spill, "achieved": result.achieved,
            "stroke_spill": result.stroke_spill, "stroke_achieved": result.stroke_achieved,
            "later_spill": result.later_spill, "later_achieved": result.later_achieved,
            "per_source": {k: _as_json(v) for k, v in result.per_source.items()}}


def write_report(result: EvalResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.md").write_text(result.report() + "\n")
    (out / "eval.json").write_text(json.dumps(_as_json(result), indent=1))
    plot(result, out / "eval.png")

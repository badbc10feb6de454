"""Does a reference photo help?  PSNR against the truth of automatic vs reference-guided colour.

    # choose the settings on validation pairs (prints them; paste into REFERENCE_SETTINGS)
    python -m colorme_desktop.training.reference_eval --tune ~/.cache/colorme/val
    # measure with the shipped settings: validation, then the test split nothing was tuned on
    python -m colorme_desktop.training.reference_eval ~/.cache/colorme/val ~/.cache/colorme/test \\
        --out docs/reference-eval.md --sheet docs/reference-contact-sheet.jpg

Pairs of different photos of similar scenes, two kinds:
- crops: the two ends of one large photo, with a tenth of the photo left out between them
  so they share no pixels and no border; each is the other's reference: same scene and
  light, different places and objects.
- subject: each photo with the most alike other photo of the same package (mean DINOv2
  token cosine), skipping near-copies: a different photo of the same kind of subject
  (another flower meadow, another lab flask, another family scene).
The automatic baseline is the engine ``create_engine(None)`` gives; reference-guided is the
same engine wrapped by ``engines.reference.ReferenceGuided``.  Tuning refuses the test split.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from colorme_desktop.core.color import compose, luma, resize_to_max_side
from colorme_desktop.core.imageio import ImageLoadError, load_image
from colorme_desktop.core.metrics import psnr
from colorme_desktop.engines.reference import (
    REFERENCE_SETTINGS,
    REFERENCE_SIDE,
    ReferenceSettings,
    Tokens,
    correction,
    grey_tokens,
    match_tokens,
    patch_chroma,
)
from colorme_desktop.engines.registry import create_engine
from colorme_desktop.engines.semantic import backbone_size
from colorme_desktop.engines.semantic_engine import load_backbone
from colorme_desktop.training.evaluate import list_photos

log = logging.getLogger(__name__)

CROP_MIN_SIDE = 800  # photos at least this long give a crop pair (each end still detailed)
CROP_GAP = 0.1  # share of the photo left out between the two ends
NEAR_COPY = 0.97  # mean-token cosine above this is the same picture, not the same subject
SAME_SUBJECT = 0.5  # ... and below this another kind of picture (the only other photo of a package)
TILE = 180
COLUMNS = ("truth", "grey", "automatic", "reference", "confidence", "reference-guided")
MIN_GAIN = 0.02  # dB a change must buy on validation; smaller differences are noise over ~50 pairs
# Values tried for each setting, one setting at a time (coordinate ascent on validation).
SEARCH = {
    "strength": (0.4, 0.6, 0.8, 1.0),
    "temperature": (0.02, 0.05, 0.1, 0.2),
    "similarity_low": (0.1, 0.2, 0.3, 0.4, 0.5),
    "similarity_high": (0.5, 0.6, 0.7, 0.8),
    "agreement_scale": (10.0, 20.0, 30.0, 50.0, 1e6),
    "luminance_scale": (10.0, 20.0, 40.0, 80.0, 1e6),
    "region_softness": (0.0, 0.02, 0.05, 0.1, 0.2),
    "scene_low": (0.0, 0.3, 0.4, 0.5),
    "scene_high": (0.5, 0.6, 0.7, 0.8),
}


@dataclass
class Pair:
    kind: str
    name: str
    target: np.ndarray  # RGB truth; the engine sees only its grey
    reference: np.ndarray


@dataclass
class Prepared:
    """A pair with everything that does not depend on the settings computed once."""

    pair: Pair
    grey: np.ndarray
    automatic: np.ndarray  # (H, W, 2) the engine's own chroma
    target_tokens: Tokens
    reference_tokens: Tokens
    reference_chroma: np.ndarray


def _load(path: Path) -> np.ndarray | None:
    try:
        return load_image(path).rgb
    except ImageLoadError as exc:
        log.warning("skipped: %s", exc)
        return None


def crop_pairs(photos: list[Path], max_side: int) -> list[Pair]:
    pairs = []
    for path in photos:
        rgb = _load(path)
        if rgb is None or max(rgb.shape[:2]) < CROP_MIN_SIDE:
            continue
        h, w = rgb.shape[:2]
        if w >= h:
            end = int(w * (1 - CROP_GAP) / 2)
            a, b = rgb[:, :end], rgb[:, w - end:]
        else:
            end = int(h * (1 - CROP_GAP) / 2)
            a, b = rgb[:end], rgb[h - end:]
        a, b = resize_to_max_side(a, max_side), resize_to_max_side(b, max_side)
        name = f"{path.parent.name}/{path.stem}"
        pairs += [Pair("crops", name + " (first end)", a, b), Pair("crops", name + " (second end)", b, a)]
    return pairs


def subject_pairs(photos: list[Path], max_side: int, backbone) -> list[Pair]:
    """Each photo with its most alike other photo from the same package (folder)."""
    images, descriptors, packages = [], [], []
    for path in photos:
        rgb = _load(path)
        if rgb is None:
            continue
        rgb = resize_to_max_side(rgb, max_side)
        features = grey_tokens(backbone, luma(rgb), 224, layer=12).features
        mean = features.reshape(features.shape[0], -1).mean(axis=1)
        images.append((path, rgb))
        descriptors.append(mean / np.linalg.norm(mean))
        packages.append(path.parent.name)
    if not images:
        return []
    similarity = np.stack(descriptors) @ np.stack(descriptors).T
    np.fill_diagonal(similarity, -1.0)
    similarity[similarity > NEAR_COPY] = -1.0
    similarity[np.array(packages)[:, None] != np.array(packages)[None, :]] = -1.0
    pairs = []
    for i, (path, rgb) in enumerate(images):
        j = int(similarity[i].argmax())
        if similarity[i, j] < SAME_SUBJECT:
            continue  # nothing in its package shows the same kind of thing
        other = images[j][0]
        pairs.append(Pair("subject", f"{path.parent.name}/{path.stem} <- {other.stem} (cos {similarity[i, j]:.2f})",
                          rgb, images[j][1]))
    return pairs


def _spread(pairs: list[Pair], count: int) -> list[Pair]:
    """``count`` pairs evenly over the list (sorted by source), so every source is seen."""
    step = max(1.0, len(pairs) / count)
    return [pairs[int(i * step)] for i in range(min(count, len(pairs)))]


def prepare(pair: Pair, engine, backbone) -> Prepared:
    grey = luma(pair.target)
    reference_grey = luma(pair.reference)
    return Prepared(pair, grey, engine.colorize(grey, ()), grey_tokens(backbone, grey),
                    grey_tokens(backbone, reference_grey),
                    patch_chroma(pair.reference, backbone_size(reference_grey.shape, REFERENCE_SIDE)))


def guided(p: Prepared, settings: ReferenceSettings) -> tuple[np.ndarray, np.ndarray]:
    """(RGB result, token-grid confidence) as ``ReferenceGuided`` gives them without hints."""
    guidance = match_tokens(p.target_tokens, p.reference_tokens, p.reference_chroma, settings)
    return compose(p.grey, p.automatic + correction(guidance, p.automatic, p.grey)), guidance.confidence


def mean_psnr(prepared: list[Prepared], settings: ReferenceSettings) -> float:
    return float(np.mean([psnr(guided(p, settings)[0], p.pair.target) for p in prepared]))


def tune(prepared: list[Prepared], rounds: int = 2) -> tuple[ReferenceSettings, list[str]]:
    """Coordinate ascent on mean validation PSNR; returns the settings and a log of the search."""
    best, score = REFERENCE_SETTINGS, mean_psnr(prepared, REFERENCE_SETTINGS)
    lines = [f"start {score:.3f} dB: {best}"]
    for _ in range(rounds):
        for name, values in SEARCH.items():
            for value in values:
                trial = dataclasses.replace(best, **{name: value})
                ordered = trial.similarity_low < trial.similarity_high and trial.scene_low < trial.scene_high
                if trial == best or not ordered:
                    continue
                trial_score = mean_psnr(prepared, trial)
                if trial_score > score + MIN_GAIN:
                    best, score = trial, trial_score
                    lines.append(f"{name} = {value}: {score:.3f} dB")
                    log.info(lines[-1])
    return best, lines


def make_pairs(folder: Path, count: int, max_side: int, backbone) -> tuple[list[Pair], int]:
    photos = list_photos(folder)
    pairs = _spread(crop_pairs(photos, max_side), count)
    pairs += _spread(subject_pairs(photos, max_side, backbone), count)
    return pairs, len(photos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+", help="validation folder, then optionally the test folder")
    parser.add_argument("--tune", action="store_true", help="search the settings on the (validation) folder")
    parser.add_argument("--out", type=Path, default=Path("docs/reference-eval.md"))
    parser.add_argument("--sheet", type=Path, default=Path("docs/reference-contact-sheet.jpg"))
    parser.add_argument("--max-side", type=int, default=384)
    parser.add_argument("--sheet-rows", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=24, help="pairs of each kind, spread over the photos")
    parser.add_argument("--engines", nargs="+", default=[None],
                        help="engines to measure (default: the one create_engine(None) gives)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    engine, note = create_engine(args.engines[0])
    log.info("automatic baseline: %s engine%s", engine.name, f" ({note})" if note else "")
    backbone = getattr(engine, "backbone", None) or load_backbone()
    if args.tune:
        if len(args.folders) != 1 or "test" in args.folders[0].resolve().parts:
            raise SystemExit("tune on the validation folder alone, never on the test photos")
        pairs, _ = make_pairs(args.folders[0], args.pairs, args.max_side, backbone)
        prepared = [prepare(p, engine, backbone) for p in pairs]
        best, lines = tune(prepared)
        print("\n".join(lines))
        print(f"best: {best}")
        return

    sections, sheet_rows = [], []
    start = time.perf_counter()
    splits = [("test" if "test" in folder.resolve().parts else "validation", folder) for folder in args.folders]
    made = {split: make_pairs(folder, args.pairs, args.max_side, backbone) for split, folder in splits}
    for number, name in enumerate(args.engines):
        engine = engine if number == 0 else create_engine(name)[0]
        for split, (pairs, photos) in made.items():
            rows = measure(pairs, engine, backbone, split)
            sections.append((engine.name, split, photos, rows))
            if split == "test" and not sheet_rows:
                sheet_rows = rows
    seconds = time.perf_counter() - start
    write_report(sections, args.out, seconds, args.max_side)
    write_sheet(sheet_rows or sections[-1][3], args.sheet, args.sheet_rows)


def measure(pairs: list[Pair], engine, backbone, split: str) -> list[dict]:
    """Automatic and guided PSNR of each pair (and the images for the contact sheet)."""
    rows = []
    for pair in pairs:
        p = prepare(pair, engine, backbone)
        automatic = compose(p.grey, p.automatic)
        result, confidence = guided(p, REFERENCE_SETTINGS)
        rows.append({"kind": pair.kind, "name": pair.name, "automatic": psnr(automatic, pair.target),
                     "guided": psnr(result, pair.target), "confidence": float(confidence.mean()),
                     "images": (pair.target, p.grey, automatic, pair.reference, confidence, result)})
        log.info("%s %s %s %s: automatic %.2f, guided %.2f", engine.name, split, pair.kind, pair.name,
                 rows[-1]["automatic"], rows[-1]["guided"])
    return rows


def summary_lines(rows: list[dict]) -> list[str]:
    lines = ["| pairs | n | automatic dB | reference-guided dB | difference dB | guided better in | mean confidence |",
             "|---|---|---|---|---|---|---|"]
    for kind in ("crops", "subject", "all"):
        chosen = [r for r in rows if kind == "all" or r["kind"] == kind]
        if not chosen:
            continue
        automatic, guided_ = np.mean([r["automatic"] for r in chosen]), np.mean([r["guided"] for r in chosen])
        better = sum(r["guided"] > r["automatic"] for r in chosen)
        lines.append(f"| {kind} | {len(chosen)} | {automatic:.2f} | {guided_:.2f} | {guided_ - automatic:+.2f} | "
                     f"{better}/{len(chosen)} | {np.mean([r['confidence'] for r in chosen]):.2f} |")
    return lines


def write_report(sections: list, out: Path, seconds: float, max_side: int) -> None:
    s = REFERENCE_SETTINGS
    lines = ["# Reference photo: PSNR against the truth", "",
             f"Automatic: the engine on its own (`{sections[0][0]}` is the default, what `create_engine(None)` gives); "
             "reference-guided: the same engine under `ReferenceGuided`, no user hints.  Photos at long side "
             f"{max_side} px.  The settings (`REFERENCE_SETTINGS` in `engines/reference.py`) were chosen on the "
             "validation pairs only (`reference_eval --tune`, coordinate ascent on mean PSNR); the test pairs "
             "come from other packages and were not looked at while tuning.", "",
             f"Settings: temperature {s.temperature}, similarity {s.similarity_low}-{s.similarity_high}, agreement "
             f"scale {s.agreement_scale:g}, luminance scale {s.luminance_scale:g}, region softness "
             f"{s.region_softness}, scene {s.scene_low}-{s.scene_high}, strength {s.strength}.", ""]
    for engine, split, photos, rows in sections:
        lines += [f"## {engine} engine, {split} ({photos} photos)", ""] + summary_lines(rows) + [""]
    lines += [f"{seconds:.0f} s on this machine (one thread).", ""]
    for engine, split, _, rows in sections:
        lines += [f"### Every {split} pair, {engine} engine", "", "| kind | pair | automatic | guided | confidence |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['kind']} | {r['name']} | {r['automatic']:.2f} | {r['guided']:.2f} | {r['confidence']:.2f} |"
                  for r in rows]
        lines.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))


def _tile(image: np.ndarray) -> Image.Image:
    if image.ndim == 2 and image.dtype != np.uint8:  # a confidence map: 0 black .. 1 white
        image = np.repeat((np.clip(image, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=-1)
        tile = Image.fromarray(image).resize((image.shape[1] * 8, image.shape[0] * 8), Image.Resampling.NEAREST)
    else:
        tile = Image.fromarray(image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1))
    tile.thumbnail((TILE, TILE), Image.Resampling.LANCZOS)
    return tile


def write_sheet(rows: list[dict], path: Path, count: int) -> None:
    """Rows spread over both kinds of pair: crops first, then subjects."""
    crops = [r for r in rows if r["kind"] == "crops"]
    subjects = [r for r in rows if r["kind"] == "subject"]
    half = min(count // 2, len(crops))
    picked = [crops[int(k * len(crops) / half)] for k in range(half)]
    rest = min(count - len(picked), len(subjects))
    picked += [subjects[int(k * len(subjects) / rest)] for k in range(rest)]
    header = 20
    sheet = Image.new("RGB", (TILE * len(COLUMNS), header + TILE * len(picked)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(COLUMNS):
        draw.text((c * TILE + 6, 4), title, fill="black")
    for r, row in enumerate(picked):
        y = header + r * TILE
        for c, image in enumerate(row["images"]):
            sheet.paste(_tile(image), (c * TILE, y))
        draw.text((4, y + 4), row["kind"], fill="white", stroke_width=2, stroke_fill="black")
        for column, key in ((2, "automatic"), (5, "guided")):
            draw.text((column * TILE + 4, y + 4), f"{row[key]:.1f} dB", fill="white", stroke_width=2,
                      stroke_fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=82)


if __name__ == "__main__":
    main()

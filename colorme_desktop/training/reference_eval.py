"""Does a reference photo help?  PSNR against the truth of automatic vs reference-guided colour.

    python -m colorme_desktop.training.reference_eval ~/.cache/colorme/val \\
        --out docs/reference-eval.md --sheet docs/reference-contact-sheet.jpg

Pairs of different photos of similar scenes, two kinds:
- crops: the two halves of one large photo (left/right, or top/bottom when taller), each
  the other's reference: same scene, same light, different places and objects.
- subject: each photo with its nearest other photo by DINOv2 content (mean token cosine),
  skipping near-copies; the pairs are listed in the report, so a reader can judge them.
The automatic baseline is the engine ``create_engine(None)`` gives; reference-guided is the
same engine wrapped by ``engines.reference.ReferenceGuided``.  Only the validation split.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from colorme_desktop.core.color import compose, luma, resize_to_max_side
from colorme_desktop.core.imageio import load_image
from colorme_desktop.core.metrics import psnr
from colorme_desktop.engines.reference import ReferenceGuided, grey_tokens
from colorme_desktop.engines.registry import create_engine
from colorme_desktop.engines.semantic_engine import load_backbone
from colorme_desktop.training.evaluate import list_photos

log = logging.getLogger(__name__)

CROP_MIN_SIDE = 1000  # photos at least this long give a crop pair (each half still detailed)
NEAR_COPY = 0.97  # mean-token cosine above this is the same picture, not the same subject
TILE = 200
COLUMNS = ("truth", "grey", "automatic", "reference", "reference-guided")


@dataclass
class Pair:
    kind: str
    name: str
    target: np.ndarray  # RGB truth; the engine sees only its grey
    reference: np.ndarray


def crop_pairs(photos: list[Path], max_side: int) -> list[Pair]:
    pairs = []
    for path in photos:
        rgb = load_image(path).rgb
        if rgb is None or max(rgb.shape[:2]) < CROP_MIN_SIDE:
            continue
        h, w = rgb.shape[:2]
        a, b = (rgb[:, : w // 2], rgb[:, w // 2:]) if w >= h else (rgb[: h // 2], rgb[h // 2:])
        a, b = resize_to_max_side(a, max_side), resize_to_max_side(b, max_side)
        name = f"{path.parent.name}/{path.stem}"
        pairs += [Pair("crops", name + " (first half)", a, b), Pair("crops", name + " (second half)", b, a)]
    return pairs


def subject_pairs(photos: list[Path], max_side: int, backbone) -> list[Pair]:
    images, descriptors = [], []
    for path in photos:
        rgb = load_image(path).rgb
        if rgb is None:
            continue
        rgb = resize_to_max_side(rgb, max_side)
        tokens, _ = grey_tokens(backbone, luma(rgb), 224, layer=12)
        mean = tokens.reshape(tokens.shape[0], -1).mean(axis=1)
        images.append((path, rgb))
        descriptors.append(mean / np.linalg.norm(mean))
    similarity = np.stack(descriptors) @ np.stack(descriptors).T
    np.fill_diagonal(similarity, -1.0)
    similarity[similarity > NEAR_COPY] = -1.0
    pairs = []
    for i, (path, rgb) in enumerate(images):
        j = int(similarity[i].argmax())
        other = images[j][0]
        pairs.append(Pair("subject", f"{path.parent.name}/{path.stem} <- {other.parent.name}/{other.stem} "
                                     f"(cos {similarity[i, j]:.2f})", rgb, images[j][1]))
    return pairs


def _spread(pairs: list[Pair], count: int) -> list[Pair]:
    """``count`` pairs evenly over the list (sorted by source), so every source is seen."""
    step = max(1.0, len(pairs) / count)
    return [pairs[int(i * step)] for i in range(min(count, len(pairs)))]


def _tile(rgb: np.ndarray) -> Image.Image:
    image = Image.fromarray(rgb)
    image.thumbnail((TILE, TILE), Image.Resampling.LANCZOS)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/reference-eval.md"))
    parser.add_argument("--sheet", type=Path, default=Path("docs/reference-contact-sheet.jpg"))
    parser.add_argument("--max-side", type=int, default=384)
    parser.add_argument("--sheet-rows", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=12, help="pairs of each kind, spread over the photos")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if "test" in args.folder.resolve().parts:
        raise SystemExit("reference_eval measures on the validation split, never on the test photos")

    engine, note = create_engine(None)
    log.info("automatic baseline: %s engine%s", engine.name, f" ({note})" if note else "")
    backbone = getattr(engine, "backbone", None) or load_backbone()
    photos = list_photos(args.folder)
    pairs = _spread(crop_pairs(photos, args.max_side), args.pairs)
    pairs += _spread(subject_pairs(photos, args.max_side, backbone), args.pairs)
    variants = {"reference-guided": {}, "final layer": {"layer": 12}}
    rows, shown = [], []
    start = time.perf_counter()
    for pair in pairs:
        grey = luma(pair.target)
        auto = compose(grey, engine.colorize(grey, ()))
        row = {"kind": pair.kind, "name": pair.name, "automatic": psnr(auto, pair.target)}
        for label, options in variants.items():
            guided = ReferenceGuided(engine, pair.reference, backbone=backbone, **options)
            result = compose(grey, guided.colorize(grey, ()))
            row[label] = psnr(result, pair.target)
            if label == "reference-guided":
                shown.append((pair, grey, auto, result))
        rows.append(row)
        log.info("%s %s: automatic %.2f, guided %.2f, final layer %.2f", pair.kind, pair.name, row["automatic"],
                 row["reference-guided"], row["final layer"])
    seconds = time.perf_counter() - start
    write_report(rows, args.out, engine.name, len(photos), seconds, args.max_side)
    write_sheet(shown, rows, args.sheet, args.sheet_rows)


def write_report(rows: list[dict], out: Path, engine: str, photos: int, seconds: float, max_side: int) -> None:
    lines = [f"# Reference photo: PSNR against the truth ({photos} validation photos, long side {max_side} px)",
             "", f"Automatic baseline: the `{engine}` engine (`create_engine(None)`); reference-guided: the same "
             "engine under `ReferenceGuided` (tokens after 9 blocks); final layer: matching on the final tokens.", "",
             "| pairs | n | automatic dB | reference-guided dB | final layer dB | guided better in |",
             "|---|---|---|---|---|---|"]
    for kind in ("crops", "subject", "all"):
        chosen = [r for r in rows if kind == "all" or r["kind"] == kind]
        if not chosen:
            continue
        better = sum(r["reference-guided"] > r["automatic"] for r in chosen)
        lines.append(f"| {kind} | {len(chosen)} | {np.mean([r['automatic'] for r in chosen]):.2f} | "
                     f"{np.mean([r['reference-guided'] for r in chosen]):.2f} | "
                     f"{np.mean([r['final layer'] for r in chosen]):.2f} | {better}/{len(chosen)} |")
    lines += ["", f"{seconds:.0f} s on this machine.", "", "| kind | pair | automatic | guided | final layer |",
              "|---|---|---|---|---|"]
    lines += [f"| {r['kind']} | {r['name']} | {r['automatic']:.2f} | {r['reference-guided']:.2f} | "
              f"{r['final layer']:.2f} |" for r in rows]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def write_sheet(shown: list, rows: list[dict], path: Path, count: int) -> None:
    """Rows spread over both kinds of pair: crops first, then subjects."""
    crops = [i for i, r in enumerate(rows) if r["kind"] == "crops"]
    subjects = [i for i, r in enumerate(rows) if r["kind"] == "subject"]
    half = count // 2
    picked = [crops[int(k * len(crops) / half)] for k in range(min(half, len(crops)))]
    picked += [subjects[int(k * len(subjects) / (count - len(picked)))]
               for k in range(min(count - len(picked), len(subjects)))]
    header = 20
    sheet = Image.new("RGB", (TILE * len(COLUMNS), header + TILE * len(picked)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(COLUMNS):
        draw.text((c * TILE + 6, 4), title, fill="black")
    for r, index in enumerate(picked):
        pair, grey, auto, result = shown[index]
        row = rows[index]
        for c, image in enumerate((pair.target, np.repeat(grey[..., None], 3, axis=-1), auto, pair.reference, result)):
            sheet.paste(_tile(image), (c * TILE, header + r * TILE))
        y = header + r * TILE
        draw.text((4, y + 4), f"{row['kind']}", fill="white", stroke_width=2, stroke_fill="black")
        draw.text((2 * TILE + 4, y + 4), f"{row['automatic']:.1f} dB", fill="white", stroke_width=2,
                  stroke_fill="black")
        draw.text((4 * TILE + 4, y + 4), f"{row['reference-guided']:.1f} dB", fill="white", stroke_width=2,
                  stroke_fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=82)


if __name__ == "__main__":
    main()

"""Choose the engine's inference settings on the validation split (recorded in weights.json).

Temperature and blend trade colourfulness against PSNR with no hints; the hint
temperature and the residual decay are chosen for PSNR with hints.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from dataclasses import replace
from pathlib import Path

from colorme_desktop.engines.neural import InferenceSettings, NeuralEngine, load_network
from colorme_desktop.training.evaluate import evaluate, list_photos

log = logging.getLogger(__name__)


def tune(photos: list[Path], max_side: int, min_colourfulness_ratio: float = 0.6) -> InferenceSettings:
    model, settings = load_network()
    rows = []
    for temperature, blend in itertools.product((0.38, 0.5, 0.7, 1.0), (0.0, 0.5, 1.0)):
        candidate = replace(settings, temperature_auto=temperature, blend=blend)
        result = evaluate(photos, {"n": NeuralEngine(model, candidate).colorize}, counts=(0,), max_side=max_side,
                          spill_hints=0, stroke_hints=0, later_hints=0)  # only the PSNR chooses
        ratio = result.colourfulness["n"] / result.colourfulness["truth"]
        rows.append((result.psnr["n"][0], ratio, temperature, blend))
        log.info("auto T=%.2f blend=%.1f: %.2f dB, colourfulness %.0f %%", temperature, blend,
                 result.psnr["n"][0], 100 * ratio)
    vivid = [r for r in rows if r[1] >= min_colourfulness_ratio] or rows
    _, _, temperature, blend = max(vivid)
    settings = replace(settings, temperature_auto=temperature, blend=blend)
    best = None
    for temperature, decay in itertools.product((0.5, 0.8, 1.0), (0.0003, 0.003, 0.03)):
        candidate = replace(settings, temperature_hints=temperature, refine_decay=decay)
        result = evaluate(photos, {"n": NeuralEngine(model, candidate).colorize}, counts=(2, 10, 50),
                          max_side=max_side, spill_hints=0, stroke_hints=0, later_hints=0)
        score = sum(result.psnr["n"].values()) / 3
        log.info("hints T=%.2f decay=%g: %s", temperature, decay,
                 {n: round(v, 2) for n, v in result.psnr["n"].items()})
        if best is None or score > best[0]:
            best = (score, candidate)
    return best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--max-side", type=int, default=512)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("colorme_desktop.training.evaluate").setLevel(logging.WARNING)
    chosen = tune(list_photos(args.folder), args.max_side)
    print(json.dumps(chosen.__dict__))


if __name__ == "__main__":
    main()

"""Time of one update (hints changed -> full-resolution chroma) for each engine.

Uses the bundled sample photo, optionally enlarged, with N random hints.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from colorme_desktop.core.hints import point_hint
from colorme_desktop.core.imageio import load_image
from colorme_desktop.engines.levin import LevinEngine
from colorme_desktop.engines.neural import NeuralEngine

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "sample" / "summer-palace-grey.jpg"


def time_updates(engine, grey: np.ndarray, counts: list[int], runs: int, draft: bool = False
                 ) -> dict[int, float]:
    rng = np.random.default_rng(0)
    h, w = grey.shape
    engine.colorize(grey, [point_hint(w / 2, h / 2, (200, 100, 50))])  # per-image caches warm
    medians = {}
    for n in counts:
        times = []
        for _ in range(runs):
            hints = [point_hint(rng.uniform(0, w), rng.uniform(0, h), tuple(int(v) for v in rng.integers(0, 256, 3)))
                     for _ in range(n)]
            start = time.perf_counter()
            engine.colorize(grey, hints, draft=draft)
            times.append((time.perf_counter() - start) * 1000)
        medians[n] = statistics.median(times)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="enlarge the sample (e.g. 6 for 12 MP)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    grey = load_image(SAMPLE).grey
    if args.scale != 1.0:
        grey = cv2.resize(grey, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_CUBIC)
    print(f"image {grey.shape[1]} x {grey.shape[0]}")
    for name, engine in (("levin", LevinEngine()), ("neural", NeuralEngine())):
        for draft in (False, True):
            result = time_updates(engine, grey, [0, 1, 10, 50], args.runs, draft)
            label = f"{name} ({'draft, while dragging' if draft else 'final'})"
            print(label, "  ".join(f"N={n}: {ms:.0f} ms" for n, ms in result.items()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()

"""Where a stroke's time goes: the worker's path (engine, compose) timed per piece, then
profiled with pyinstrument, on a photo of the benchmark sizes.

    pip install -e '.[profile]'
    python benchmarks/profile_stroke.py --size 12mp --side 530          # drafts and finals
    python benchmarks/profile_stroke.py --size 12mp --profile final     # + a pyinstrument tree
    python benchmarks/profile_stroke.py --size 12mp --drag              # a draft per mouse move
    python benchmarks/profile_stroke.py --size 12mp --drag --colour     # the same, recolouring a colour photo

Also prints how far each draft is from the final of the same stroke (chroma, grey levels):
what the user sees jump when the stroke ends.  The window's own costs (QImage, paint)
are in ``run.py --only window``; the machine's load changes every number here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks.run import SIZES, build_engine, sample_grey  # noqa: E402
from colorme_desktop.core.color import compose, fit_size, luma  # noqa: E402
from colorme_desktop.core.hints import Hint  # noqa: E402


def _stroke(rng: np.random.Generator, w: int, h: int, drag: bool = False) -> Hint:
    """A hand's short drag, as run.py's window benchmark makes it (``drag``: its moves of 2 % of
    the width with the window's default brush, as the window asks a draft for each)."""
    x0, y0 = rng.uniform(0.1, 0.8) * w, rng.uniform(0.1, 0.8) * h
    step, moves, radius = (0.02, 7, 4.0) if drag else (0.026, 6, 8.0)
    return Hint(tuple((x0 + s * step * w, y0 + s * step / 2 * h) for s in range(moves)),
                tuple(int(v) for v in rng.integers(0, 256, 3)), radius)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="12mp")
    parser.add_argument("--side", type=int, default=530, help="long side of the result on screen")
    parser.add_argument("--strokes", type=int, default=10)
    parser.add_argument("--profile", choices=("draft", "final"), help="also print a pyinstrument tree of these")
    parser.add_argument("--drag", action="store_true",
                        help="a draft for every mouse move of the stroke (else one for half of it, one for all)")
    parser.add_argument("--colour", action="store_true",
                        help="recolour a colour photo from its own colours (else colour a grey one)")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")  # as the app's worker runs (ui.worker)

    grey = sample_grey(SIZES[args.size])
    own = {}
    if args.colour:  # the sample with colours laid over it: regions of several hues and edges between them
        rgb = cv2.addWeighted(cv2.applyColorMap(grey, cv2.COLORMAP_TWILIGHT_SHIFTED)[..., ::-1], 0.5,
                              np.repeat(grey[..., None], 3, axis=2), 0.5, 0.0)
        grey = luma(rgb)
        own = {"photo_rgb": rgb}
    shown = cv2.resize(grey, fit_size(grey.shape, args.side), interpolation=cv2.INTER_AREA)
    engine = build_engine("semantic")
    engine.colorize(grey, [], shown=shown, **own)
    start = time.perf_counter()
    engine.prepare_strokes(grey, **own)
    print(f"prepare_strokes {1000 * (time.perf_counter() - start):.0f} ms")
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    rng = np.random.default_rng(0)
    h, w = grey.shape
    hints: list[Hint] = []
    times: dict[str, list[float]] = {"draft": [], "final": [], "compose": []}
    jumps = []
    for _ in range(args.strokes):
        stroke = _stroke(rng, w, h, args.drag)
        for end in range(2, len(stroke.points)) if args.drag else [3]:  # the drag so far
            start = time.perf_counter()
            engine.colorize(grey, [*hints, Hint(stroke.points[:end], stroke.color, stroke.radius)], draft=True,
                            shown=shown, **own)
            if args.drag:
                times["draft"].append(time.perf_counter() - start)
        results = {}
        for kind, these in (("draft", [*hints, stroke]), ("final", [*hints, stroke])):
            if profiler is not None and kind == args.profile:
                profiler.start()
            start = time.perf_counter()
            results[kind] = engine.colorize(grey, these, draft=kind == "draft", shown=shown, **own)
            times[kind].append(time.perf_counter() - start)
            if profiler is not None and kind == args.profile:
                profiler.stop()
        hints.append(stroke)
        start = time.perf_counter()
        compose(shown, results["final"])
        times["compose"].append(time.perf_counter() - start)
        jumps.append(np.linalg.norm(results["final"] - results["draft"], axis=-1))
        time.sleep(0.4)  # the user between strokes; the background refactorisation runs
    for kind, values in times.items():
        print(f"{kind:8s} median {1000 * statistics.median(values):6.1f} ms  max {1000 * max(values):6.1f} ms")
    jump = np.stack(jumps)
    print(f"draft -> final (chroma, grey levels): mean {jump.mean():.2f}  p99 {np.percentile(jump, 99):.2f}  "
          f"max {jump.max():.1f}")
    if profiler is not None:
        print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()

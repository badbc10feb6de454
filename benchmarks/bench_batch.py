"""Whole albums: photos per minute at 1, 2 and --jobs worker processes, and on a Dask
cluster of 1 and 2 workers, for a folder of photos cut from the sample photo.

Two rates for each: "overall" counts from the start, including starting the workers and
loading their engines, as a user waits for them; "steady" counts from the first photo
finished to the last, what a long album approaches.  With few photos the start dominates
the overall rate.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from colorme_desktop.batch import BatchOptions, default_jobs, run_batch
from colorme_desktop.core.batch_plan import plan_batch
from colorme_desktop.core.imageio import load_image

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "sample" / "summer-palace-grey.jpg"


def make_album(folder: Path, count: int, side: int) -> None:
    """``count`` different photos of ``side`` pixels on the long side: crops of the sample
    at random places and scales, some mirrored, so no engine cache is ever hit."""
    grey = load_image(SAMPLE).grey
    h, w = grey.shape
    rng = np.random.default_rng(0)
    for i in range(count):
        crop = rng.uniform(0.5, 1.0)
        ch, cw = int(h * crop), int(w * crop)
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        photo = grey[y:y + ch, x:x + cw]
        photo = photo[:, ::-1] if i % 2 else photo
        scale = side / max(photo.shape)
        cv2.imwrite(str(folder / f"photo{i:03d}.png"), cv2.resize(photo, None, fx=scale, fy=scale,
                                                                   interpolation=cv2.INTER_AREA))


def rate(album: Path, out: Path, options: BatchOptions, **where: object) -> tuple[float, float]:
    """(overall, steady) photos per minute; every photo must succeed, or the number would flatter."""
    items = plan_batch([album], out, overwrite=True).items
    start = time.perf_counter()
    finished = []
    for result in run_batch(items, options, **where):
        if not result.ok:
            raise SystemExit(f"{result.item.source} failed: {result.error}")
        finished.append(time.perf_counter())
    overall = len(items) / (finished[-1] - start) * 60
    steady = (len(items) - 1) / max(finished[-1] - finished[0], 1e-9) * 60
    return overall, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=32)
    parser.add_argument("--side", type=int, default=768, help="long side of each photo in pixels")
    parser.add_argument("--engine", choices=("neural", "levin"), default=None, help="default: the best available")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="the third worker count (default: cores)")
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    options = BatchOptions(engine=args.engine)
    with tempfile.TemporaryDirectory() as tmp:
        album = Path(tmp) / "album"
        album.mkdir()
        make_album(album, args.photos, args.side)
        print(f"{args.photos} photos, {args.side} px long side, engine {args.engine or 'default'}, "
              f"{default_jobs()} cores")
        print("photos per minute      overall   steady")
        for jobs in sorted({1, 2, args.jobs}):
            overall, steady = rate(album, Path(tmp) / f"out-jobs{jobs}", options, jobs=jobs)
            print(f"--jobs {jobs:<14} {overall:8.1f} {steady:8.1f}")
        if args.no_dask:
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            print("Dask: not installed (pip install 'colorme-desktop[cluster]')")
            return
        rates = {}
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                rates[workers] = rate(album, Path(tmp) / f"out-dask{workers}", options, scheduler=client)
            print(f"Dask, {workers} worker{'s' * (workers > 1)}{' ' * (workers == 1)}     "
                  f"{rates[workers][0]:8.1f} {rates[workers][1]:8.1f}")
        print(f"Dask scaling 1 -> 2 workers: x{rates[2][0] / rates[1][0]:.2f} overall, "
              f"x{rates[2][1] / rates[1][1]:.2f} steady")


if __name__ == "__main__":
    main()

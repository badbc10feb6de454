"""Median time of one network forward pass at 256 x 256 on the CPU (target: 60 ms on 2 cores)."""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from colorme_desktop.engines.network import ColorNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ColorNet().eval()
    grey = torch.rand(1, 1, args.size, args.size) * 255
    mask = torch.zeros(1, 1, args.size, args.size)
    chroma = torch.zeros(1, 2, args.size, args.size)
    times = []
    with torch.inference_mode():
        for _ in range(5):
            model(grey, chroma, mask)
        for _ in range(args.runs):
            start = time.perf_counter()
            logits, regression = model(grey, chroma, mask)
            model.chroma(logits, regression, temperature=1.0, blend=0.5)
            times.append((time.perf_counter() - start) * 1000)
    print(f"forward {args.size}x{args.size}, {args.threads} threads: median {statistics.median(times):.1f} ms, "
          f"p90 {sorted(times)[int(0.9 * len(times))]:.1f} ms over {args.runs} runs")


if __name__ == "__main__":
    main()

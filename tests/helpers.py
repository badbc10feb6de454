"""Small synthetic images shared by the tests."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def two_region_grey(height: int = 64, width: int = 96) -> np.ndarray:
    """Dark left half, light right half: a strong vertical edge at the middle."""
    grey = np.full((height, width), 60, dtype=np.uint8)
    grey[:, width // 2:] = 190
    rng = np.random.default_rng(0)
    noise = rng.integers(-3, 4, size=grey.shape)
    return np.clip(grey.astype(int) + noise, 0, 255).astype(np.uint8)


def colourful_rgb(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients with a few saturated blocks."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 / width, y * 255 / height, 255 - x * 255 / width], axis=-1)
    rgb[5:15, 5:20] = (230, 30, 30)
    rgb[20:40, 30:50] = (20, 200, 40)
    rgb += rng.normal(0, 4, size=rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


@contextmanager
def blocking_pipe(path: Path, after: float = 10.0) -> Iterator[Path]:
    """A named pipe at ``path``.  Code that wrongly opens it for reading would block for
    ever; after ``after`` seconds a writer comes and leaves at once, so such a test fails
    (the reader sees an empty file) instead of hanging the suite."""
    os.mkfifo(path)
    done = threading.Event()

    def writer() -> None:
        if done.wait(after):
            return
        while not done.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader yet
                done.wait(0.1)
                continue
            os.close(fd)
            return

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        done.set()
        thread.join()


def count_stroke_factorisations(monkeypatch) -> list[int]:
    """The sizes of the systems ``propagation`` factorises from now on, in any thread but
    the background refactorisation's (that one runs for the next stroke, behind this one).
    Kept factorisations are made in a thread of their own, so every other thread counts."""
    from colorme_desktop.engines import propagation

    sizes: list[int] = []
    real_factorise = propagation._factorise

    def factorise(matrix):
        if not threading.current_thread().name.startswith(propagation.BEHIND_THREAD):
            sizes.append(matrix.shape[0])
        return real_factorise(matrix)

    monkeypatch.setattr(propagation, "_factorise", factorise)
    return sizes

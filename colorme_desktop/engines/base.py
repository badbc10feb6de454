"""The one small interface every colorization engine offers, and how the app picks one."""

from __future__ import annotations

import ctypes
import hashlib
import os
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from colorme_desktop.core.hints import Hint


class Engine(Protocol):
    """Grey image + hints in, full-resolution chroma out.

    ``grey`` is the (H, W) uint8 luminance at full resolution; the result is (H, W, 2)
    float32 Cb/Cr in grey levels.  Engines may work at a smaller size internally, but
    only chroma is ever resampled: ``core.color.compose`` puts it on the untouched grey.
    ``draft=True`` asks for a quicker, rougher answer while the user is still dragging.
    ``shown`` is the photo as the screen shows it, a smaller copy of ``grey``: the result is
    then at that size (``core.hints.finish``), the work before it the same as for ``grey``.
    """

    name: str
    description: str

    def colorize(self, grey: np.ndarray, hints: Sequence[Hint], draft: bool = False,
                 shown: np.ndarray | None = None) -> np.ndarray: ...


class EngineError(Exception):
    """An engine cannot be created or cannot run; the message is for the user."""


class DraftSupersededError(Exception):
    """A draft given up half-way because the request it answered is already outdated.

    An engine may offer ``set_draft_stop(stop)``: ``stop()`` then says, now and then during
    a draft, whether the draft is no longer wanted: the final of the same stroke is waiting
    (the window shows the final alone), or a newer draft while the screen is fresh (the
    worker's ``DRAFT_FRESH_S``).  The app's worker catches this and goes on to the waiting
    request.
    """


def give_up_if(stop: Callable[[], bool] | None) -> None:
    """Raise ``DraftSupersededError`` if ``stop()`` says the draft is no longer wanted."""
    if stop is not None and stop():
        raise DraftSupersededError


class WeightsNotShippedError(EngineError):
    """This installation has no weights for the engine at all (not damaged ones).

    When the default engine falls back, a damaged file is what the user must hear
    about, not that some other engine was never installed.
    """


def image_key(grey: np.ndarray) -> str:
    """A cheap fingerprint so engines can cache per-image work between hint edits."""
    step = max(1, int(np.sqrt(grey.size / 65536)))
    sample = np.ascontiguousarray(grey[::step, ::step])
    return f"{grey.shape}:{hashlib.blake2b(sample.tobytes(), digest_size=12).hexdigest()}"


def prefer_passive_threads() -> None:
    """Ask OpenMP not to spin while it waits; call before torch is imported.

    Spinning threads steal the cores that other programs (and other batch workers) need:
    measured on a busy 2-core machine, the network took 3.3 s a photo with spinning
    threads and 0.06 s without.  A value the user set is kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def reuse_freed_memory() -> None:
    """Let the C allocator keep freed blocks under 4 MB for reuse (glibc; elsewhere a no-op).

    A forward pass of the backbone in numpy makes some 200 arrays of 0.5-1 MB.  By default
    glibc hands blocks that size back to the system when they are freed, so every new one
    is fresh memory that faults in page by page: the pass took 0.12 s instead of 0.08 s on
    this project's 2-core machine.  Larger blocks (photos, results) are still given back at
    once; at most 32 MB of freed small blocks are kept before the heap is trimmed.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, 4 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 32 << 20)
    except (OSError, AttributeError, TypeError):  # not glibc: its allocator keeps its own ways
        pass

"""Giving memory the program has freed back to the system.

glibc's allocator keeps freed blocks inside its heaps for reuse, and a heap shrinks only
from its top.  Each photo's graphs, solvers and factorisations are hundreds of small and
middling blocks; after a few photos of different sizes the freed ones sat between live
ones, and the process only grew.  Measured in session 16 on 50 validation photos at 384 px,
each coloured, prepared for strokes and given 5 hints: 433 -> 687 MB over the 50; with the
freed memory handed back whenever a photo leaves an engine's cache (2-7 ms each time),
406 -> 379 MB.
"""

from __future__ import annotations

import ctypes
import functools

__all__ = ["release_freed_memory"]


@functools.cache
def _glibc_trim():
    """glibc's ``malloc_trim``, or None where the C library is another (macOS, Windows, musl)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process already has loaded
    except (OSError, TypeError, AttributeError):  # TypeError: Windows has no such handle
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Hand the heap's free pages back to the system; True if any were (always False off glibc).

    Cheap enough (a few ms) to call whenever a photo's working state has been dropped,
    too slow for every stroke.
    """
    trim = _glibc_trim()
    return bool(trim(0)) if trim is not None else False

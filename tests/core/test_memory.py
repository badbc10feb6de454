import sys

import numpy as np
import pytest

from colorme_desktop.core import memory


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux") or memory._glibc_trim() is None,
                    reason="only glibc keeps freed memory in its heaps this way")
def test_freed_memory_stuck_behind_a_live_block_goes_back_to_the_system():
    # 200 MB of blocks small enough for the heap, the last one kept alive: glibc cannot
    # shrink the heap from its top, so freeing the rest leaves them counted in the process.
    blocks = [np.ones(100_000 // 8) for _ in range(2_000)]
    kept = blocks[-1]
    del blocks
    before = _rss_mb()
    assert memory.release_freed_memory()
    assert before - _rss_mb() > 100
    assert kept.sum() == 100_000 // 8


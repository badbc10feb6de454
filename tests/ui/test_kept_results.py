"""The worker's kept results: bounded by count and by bytes, the newest kept."""

import numpy as np

from colorme_desktop.ui.worker import _KeptChroma


def test_kept_results_are_bounded_by_count_as_well_as_bytes():
    """Thousands of small results filled the whole budget (a soak test's memory bound
    failed on a busy machine)."""
    kept = _KeptChroma(budget=10**9, most=64)
    for i in range(1000):
        kept.put(("result", i), np.zeros((90, 120, 2), np.float32))
    assert len(kept) == 64
    assert kept.get(("result", 999)) is not None and kept.get(("result", 935)) is None
    assert kept.get(("result", 936)) is not None  # the 64 newest


def test_kept_results_are_bounded_by_bytes():
    kept = _KeptChroma(budget=3 * 1000 * 8, most=64)
    for i in range(10):
        kept.put(i, np.zeros((1000, 2), np.float32))  # 8 kB each
    assert len(kept) == 3 and kept.get(9) is not None and kept.get(6) is None
    chroma = kept.get(9)
    assert not chroma.flags.writeable  # shared by every later request with this key

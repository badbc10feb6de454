"""Incremental solves (propagation.Spreader) give what a fresh direct solve gives."""

import numpy as np
import pytest

from colorme_desktop.core.hints import Hint, rasterize
from colorme_desktop.engines import propagation
from colorme_desktop.engines.propagation import Spreader, affinity_laplacian, spread
from tests.helpers import colourful_rgb


def _grey():
    rgb = colourful_rgb(90, 120).astype(np.float32)
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.uint8)


def _stroke(rng, w, h):
    x, y = rng.uniform(0.1, 0.8) * w, rng.uniform(0.1, 0.8) * h
    return Hint(tuple((x + i * 2.0, y + i * 1.0) for i in range(6)), tuple(int(v) for v in rng.integers(0, 256, 3)),
                1.5)


@pytest.mark.parametrize("decay", [1e-4, 0.0])
def test_each_stroke_matches_the_direct_solve(decay, monkeypatch):
    grey = _grey()
    h, w = grey.shape
    laplacian = affinity_laplacian(grey)
    spreader = Spreader(laplacian, w)
    solves = []
    real_factorise = propagation._factorise
    monkeypatch.setattr(propagation, "_factorise", lambda m: solves.append(m.shape[0]) or real_factorise(m))
    rng = np.random.default_rng(3)
    hints: list[Hint] = []
    steps = [_stroke(rng, w, h) for _ in range(5)] + ["undo", "undo", _stroke(rng, w, h)]
    for step in steps:
        if step == "undo":
            hints.pop()
        else:
            hints.append(step)
        chroma, mask = rasterize(hints, (w, h))
        values = chroma * mask[..., None]
        d = decay / len(hints)
        direct = spread(laplacian, values, mask, d)
        incremental = spreader.spread(values, mask, d)
        assert np.abs(incremental - direct).max() < 0.25  # grey levels of chroma
        for thread in [spreader._refresh] if spreader._refresh else []:
            thread.join()  # the background refactorisation, so the test is the same every run
    assert any(n < h * w for n in solves)  # strokes after the first were solved from the box around them


def test_no_hints_spread_nothing():
    grey = _grey()
    spreader = Spreader(affinity_laplacian(grey), grey.shape[1])
    out = spreader.spread(np.ones((*grey.shape, 2), np.float32), np.zeros(grey.shape, np.float32), 1e-3)
    assert out.shape == (*grey.shape, 2) and not out.any()

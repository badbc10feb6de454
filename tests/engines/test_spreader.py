"""Incremental solves (propagation.Spreader) give what a fresh direct solve gives."""

import os
from pathlib import Path

import numpy as np
import pytest

from colorme_desktop.core.hints import Hint, rasterize
from colorme_desktop.engines import propagation
from colorme_desktop.engines.base import DraftSupersededError
from colorme_desktop.engines.propagation import Spreader, affinity_laplacian, spread
from tests.helpers import colourful_rgb, count_stroke_factorisations


def _grey():
    rgb = colourful_rgb(90, 120).astype(np.float32)
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.uint8)


def _stroke(rng, w, h):
    x, y = rng.uniform(0.1, 0.8) * w, rng.uniform(0.1, 0.8) * h
    return Hint(tuple((x + i * 2.0, y + i * 1.0) for i in range(6)), tuple(int(v) for v in rng.integers(0, 256, 3)),
                1.5)


def _primed(grey):
    """The photo's laplacian and a spreader factorised before its first stroke, as the app makes it."""
    laplacian = affinity_laplacian(grey)
    spreader = Spreader(laplacian, grey.shape[1])
    spreader.prime(1e-4)
    return laplacian, spreader


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
        if spreader._refresh:
            spreader._refresh.result()  # the background refactorisation, so the test is the same every run
    assert any(n < h * w for n in solves)  # strokes after the first were solved from the box around them


def test_no_hints_spread_nothing():
    grey = _grey()
    spreader = Spreader(affinity_laplacian(grey), grey.shape[1])
    out = spreader.spread(np.ones((*grey.shape, 2), np.float32), np.zeros(grey.shape, np.float32), 1e-3)
    assert out.shape == (*grey.shape, 2) and not out.any()


def test_primed_first_stroke_needs_no_whole_factorisation(monkeypatch):
    """The first stroke on a photo used to pay a whole factorisation (the p95 outlier)."""
    grey = _grey()
    h, w = grey.shape
    laplacian, spreader = _primed(grey)
    solves = count_stroke_factorisations(monkeypatch)
    hints = [_stroke(np.random.default_rng(5), w, h)]
    chroma, mask = rasterize(hints, (w, h))
    values = chroma * mask[..., None]
    out = spreader.spread(values, mask, 1e-4)
    assert np.abs(out - spread(laplacian, values, mask, 1e-4)).max() < 0.25
    assert solves and max(solves) < h * w  # only the stroke's surroundings were factorised


def test_quick_draft_is_near_the_final_and_never_overshoots():
    """A draft is the final's solve cut short: close to it, and never further than where it started."""
    grey = _grey()
    h, w = grey.shape
    laplacian, spreader = _primed(grey)
    rng = np.random.default_rng(7)
    hints: list[Hint] = []
    before = np.zeros((h, w, 2), np.float32)  # the previous stroke's result: none yet
    for _ in range(4):
        stroke = _stroke(rng, w, h)
        chroma, mask = rasterize([*hints, stroke], (w, h))
        values = chroma * mask[..., None]
        d = 1e-4 / (len(hints) + 1)
        exact = spread(laplacian, values, mask, d)
        draft = spreader.spread(values, mask, d, quick=True)
        assert np.abs(before - exact).max() > 10.0  # the stroke asks for a visible change ...
        assert np.abs(draft - exact).max() < 2.0  # ... and the draft is within 2 grey levels of the final
        hints.append(stroke)
        final = spreader.spread(values, mask, d)
        assert np.abs(final - exact).max() < 0.25
        before = final
        if spreader._refresh:
            spreader._refresh.result()


def test_quick_without_an_earlier_solve_gives_nothing():
    grey = _grey()
    spreader = Spreader(affinity_laplacian(grey), grey.shape[1])
    chroma, mask = rasterize([_stroke(np.random.default_rng(1), grey.shape[1], grey.shape[0])], grey.shape[::-1])
    assert spreader.spread(chroma, mask, 1e-4, quick=True) is None


def test_a_stopped_draft_gives_up_and_the_final_still_matches_the_direct_solve():
    grey = _grey()
    h, w = grey.shape
    laplacian, spreader = _primed(grey)
    chroma, mask = rasterize([_stroke(np.random.default_rng(9), w, h)], (w, h))
    values = chroma * mask[..., None]
    asked = []
    with pytest.raises(DraftSupersededError):
        spreader.spread(values, mask, 1e-4, quick=True, stop=lambda: asked.append(1) or len(asked) > 1)
    assert len(asked) == 2  # asked before its columns and again before its solve, where it gave up
    final = spreader.spread(values, mask, 1e-4, stop=lambda: True)  # a final is never stopped
    assert np.abs(final - spread(laplacian, values, mask, 1e-4)).max() < 0.25
    if spreader._refresh:
        spreader._refresh.result()


def test_a_draft_on_a_factorisation_with_the_same_decay_is_the_exact_solve(monkeypatch):
    """The app's case: the refactorisation after each stroke is made with the next stroke's
    decay, so that stroke's drafts solve the new system exactly, a few new pixels at a time."""
    grey = _grey()
    h, w = grey.shape
    laplacian, spreader = _primed(grey)
    decays = [1e-4 / n ** 2 for n in range(1, 5)]
    rng = np.random.default_rng(11)
    hints: list[Hint] = []
    solved = []
    real_columns = spreader._columns
    monkeypatch.setattr(spreader, "_columns", lambda f, new: solved.append(new.size) or real_columns(f, new))
    for _ in range(3):
        thick = _stroke(rng, w, h)
        stroke = Hint(thick.points, thick.color, 0.5)  # one pixel wide: 2-3 new pixels a move
        solved.clear()
        kept_before = 0
        for end in range(2, len(stroke.points) + 1):  # a draft per mouse move
            part = Hint(stroke.points[:end], stroke.color, stroke.radius)
            chroma, mask = rasterize([*hints, part], (w, h))
            values = chroma * mask[..., None]
            draft = spreader.spread(values, mask, decays[len(hints)], quick=True)
            exact = spread(laplacian, values, mask, decays[len(hints)])
            assert np.abs(draft - exact).max() < 0.05  # single precision: far below a grey level
            kept = spreader._border[1].size
            assert kept >= kept_before and kept - kept_before <= propagation.BORDER_NEW_MAX
            kept_before = kept  # each move solved only its own new pixels
        assert solved and kept_before == solved[-1] > 0  # the drafts took the exact path
        hints.append(stroke)
        chroma, mask = rasterize(hints, (w, h))
        values = chroma * mask[..., None]
        final = spreader.spread(values, mask, decays[len(hints) - 1], next_decay=decays[len(hints)])
        assert np.abs(final - spread(laplacian, values, mask, decays[len(hints) - 1])).max() < 0.25
        spreader._refresh.result()
        assert spreader._factor.decay == decays[len(hints)]  # made for the next stroke


def test_a_draft_painting_over_an_earlier_hint_is_still_exact():
    """The drafts keep the factorisation's own solution for the values it fixes; a stroke
    across an earlier hint changes those values, and the kept solution must follow."""
    grey = _grey()
    h, w = grey.shape
    laplacian, spreader = _primed(grey)
    decays = (1e-4, 1e-4 / 4)
    earlier = Hint(((20.0, 45.0), (100.0, 45.0)), (220, 40, 40), 0.5)
    chroma, mask = rasterize([earlier], (w, h))
    spreader.spread(chroma * mask[..., None], mask, decays[0], next_decay=decays[1])
    spreader._refresh.result()
    across = Hint(tuple((60.0, 39.0 + 2.0 * i) for i in range(6)), (40, 60, 220), 0.5)  # 2-3 new pixels a move
    exact_path = []
    real_bordered = spreader._bordered
    spreader._bordered = lambda *a: exact_path.append(real_bordered(*a)) or exact_path[-1]
    for end in range(2, len(across.points) + 1):
        hints = [earlier, Hint(across.points[:end], across.color, across.radius)]
        chroma, mask = rasterize(hints, (w, h))
        values = chroma * mask[..., None]
        draft = spreader.spread(values, mask, decays[1], quick=True)
        assert exact_path[-1] is not None  # solved as a bordered system
        assert np.abs(draft - spread(laplacian, values, mask, decays[1])).max() < 0.05
    assert across.points[-1][1] > 45  # it crossed the earlier hint


def test_a_draft_on_a_factorisation_of_another_decay_takes_cg_steps(monkeypatch):
    grey = _grey()
    h, w = grey.shape
    laplacian, spreader = _primed(grey)  # decay 1e-4
    monkeypatch.setattr(spreader, "_columns", lambda *args: pytest.fail("the bordered solve needs the same decay"))
    chroma, mask = rasterize([_stroke(np.random.default_rng(13), w, h)], (w, h))
    values = chroma * mask[..., None]
    draft = spreader.spread(values, mask, 5e-5, quick=True)
    exact = spread(laplacian, values, mask, 5e-5)
    assert np.abs(draft - exact).max() < 0.1 * np.abs(exact).max()  # two steps: near, not exact


def test_a_thick_stroke_catches_up_a_few_columns_per_draft(monkeypatch):
    """Many new pixels at once (a thick brush, or a factorisation that lands mid-stroke): each
    draft solves only BORDER_NEW_MAX more columns and takes CG steps until all are kept."""
    grey = _grey()
    h, w = grey.shape
    laplacian, spreader = _primed(grey)
    big = Hint(((30.0, 30.0), (45.0, 38.0)), (220, 40, 40), 3.0)
    chroma, mask = rasterize([big], (w, h))
    values = chroma * mask[..., None]
    pixels = int(mask.sum())
    assert pixels > 2 * propagation.BORDER_NEW_MAX
    exact = spread(laplacian, values, mask, 1e-4)
    exact_path = []
    real_bordered = spreader._bordered
    monkeypatch.setattr(spreader, "_bordered", lambda *a: exact_path.append(real_bordered(*a)) or exact_path[-1])
    drafts = -(-pixels // propagation.BORDER_NEW_MAX)  # ceiling: the drafts it takes to catch up
    for _ in range(drafts):
        draft = spreader.spread(values, mask, 1e-4, quick=True)
        assert np.abs(draft - exact).max() < 5.0
    assert [x is not None for x in exact_path] == [False] * (drafts - 1) + [True]
    assert spreader._border[1].size == pixels
    assert np.abs(draft - exact).max() < 0.05  # the last one exact


def test_pixels_set_free_since_the_factorisation_take_cg_steps(monkeypatch):
    """An undo frees pixels the factorised system held fixed: not a bordered system any more."""
    grey = _grey()
    h, w = grey.shape
    laplacian, spreader = _primed(grey)
    rng = np.random.default_rng(17)
    first, second = _stroke(rng, w, h), _stroke(rng, w, h)
    chroma, mask = rasterize([first, second], (w, h))
    spreader.spread(chroma * mask[..., None], mask, 1e-4, next_decay=1e-4)
    if spreader._refresh:
        spreader._refresh.result()
    assert spreader._factor.fixed.sum() == mask.sum()  # factorised with both strokes fixed
    monkeypatch.setattr(spreader, "_columns", lambda *args: pytest.fail("pixels set free: no bordered solve"))
    chroma, mask = rasterize([first], (w, h))
    values = chroma * mask[..., None]
    draft = spreader.spread(values, mask, 1e-4, quick=True)
    exact = spread(laplacian, values, mask, 1e-4)
    assert np.abs(draft - exact).max() < 0.1 * np.abs(exact).max()


def test_pixels_cut_off_together_do_not_break_the_factorisation():
    """Two pixels that the features cut from everything but each other (a fully cut link
    is exp(-2000) = 0): the single-precision factorisation found a zero pivot there."""
    grey = np.full((10, 10), 100, np.uint8)
    features = np.zeros((10, 10, 2), np.float32)
    features[..., 0] = 1.0
    features[4, 4] = features[4, 5] = (0.0, 1.0)
    spreader = Spreader(affinity_laplacian(grey, features, feature_softness=0.001, grey_cap=5e-4), 10)
    spreader.prime(1e-8)
    values, mask = np.zeros((10, 10, 2), np.float32), np.zeros((10, 10), np.float32)
    values[0, 0], mask[0, 0] = 5.0, 1.0
    out = spreader.spread(values, mask, 1e-8)
    assert np.abs(out[4, 4]).max() < 1e-3  # the cut-off pair: no path from the hint
    assert np.allclose(out[9, 9], 5.0, atol=0.01)  # everything else: reached


def test_a_column_that_may_stop_sooner_leaves_the_others_exact():
    """Per-channel tolerances: the loose channel stops stepping, the strict ones carry on."""
    grey = _grey()
    h, w = grey.shape
    laplacian, spreader = _primed(grey)
    rng = np.random.default_rng(11)
    hints: list[Hint] = []
    for _ in range(3):
        hints.append(_stroke(rng, w, h))
        chroma, mask = rasterize(hints, (w, h))
        values = np.concatenate([chroma, np.ones_like(chroma[..., :1])], axis=-1) * mask[..., None]
        d = 1e-4 / len(hints)
        exact = spread(laplacian, values, mask, d)
        out = spreader.spread(values, mask, d, tolerances=(5e-5, 5e-5, 2e-3))  # the reach channel's
        assert np.abs(out[..., :2] - exact[..., :2]).max() < 0.25
        assert np.abs(out[..., 2] - exact[..., 2]).max() < 0.05  # a share between 0 and 1
        if spreader._refresh:
            spreader._refresh.result()


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the process's memory from /proc")
def test_strokes_do_not_leak_their_refactorisations():
    """scipy's SuperLU frees memory only in the thread that allocated it: a refactorisation
    made in a thread of its own and dropped by the next one leaked about 12 MB a stroke here."""
    rng = np.random.default_rng(8)
    grey = (rng.random((128, 192)) * 255).astype(np.uint8)
    spreader = Spreader(affinity_laplacian(grey), 192)
    spreader.prime(2e-4)

    def resident_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    hints: list[Hint] = []
    for stroke in range(25):
        if stroke == 5:
            before = resident_mb()  # after the first few: allocators' pools have grown by then
        hints.append(_stroke(rng, 192, 128))
        chroma, mask = rasterize(hints, (192, 128))
        spreader.spread(chroma * mask[..., None], mask, 2e-4 / len(hints), next_decay=2e-4 / (len(hints) + 1))
        if spreader._refresh:
            spreader._refresh.result()
    assert resident_mb() - before < 100  # leaking, these 20 strokes took 240 MB


def test_a_photo_leaving_the_cache_gives_its_memory_back(monkeypatch):
    calls = []
    monkeypatch.setattr(propagation, "release_freed_memory", lambda: calls.append(1))
    cache = propagation.LruCache(2)
    for key in ("a", "b", "a", "b"):
        cache.get(key, object)
    assert calls == []  # nothing left the cache
    cache.get("c", object)
    assert calls == [1]

import json
import math

import cv2
import numpy as np
import pytest

from colorme_desktop.core.hints import (
    HINTS_FILE_VERSION,
    Hint,
    HintsFileError,
    keep_hint,
    load_hints_file,
    paint_exact,
    point_hint,
    rasterize,
    save_hints_file,
)
from colorme_desktop.core.history import HintHistory

SIZE = (100, 80)


def test_rasterize_point_marks_a_disc_with_its_chroma():
    chroma, mask = rasterize([point_hint(50, 40, (255, 0, 0), radius=3)], SIZE)
    assert mask.shape == (80, 100)
    assert 25 <= mask.sum() <= 50  # about pi * 3.5^2
    assert mask[40, 50] == 1 and mask[40, 58] == 0
    assert chroma[40, 50, 1] > 100  # red has strong positive Cr
    assert np.all(chroma[mask == 0] == 0)


def test_rasterize_stroke_covers_its_path_and_scales():
    stroke = Hint(((10.0, 10.0), (90.0, 10.0)), (0, 0, 255), 2.0)
    _, mask = rasterize([stroke], SIZE)
    assert mask[10, 10:90].all()
    _, small = rasterize([stroke], (50, 40), scale=0.5)
    assert small[5, 5:45].all()


def test_tiny_radius_at_small_scale_still_marks_a_pixel():
    _, mask = rasterize([point_hint(50, 40, (0, 255, 0), radius=1)], (10, 8), scale=0.1)
    assert mask.sum() == 1 and mask[4, 5] == 1


def test_hints_file_round_trip(tmp_path):
    hints = (point_hint(12.5, 40, (161, 178, 195), 2), Hint(((1.0, 2.0), (30.0, 40.0)), (1, 2, 3), 4.0))
    path = tmp_path / "h.json"
    save_hints_file(path, hints, SIZE)
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["image_size"] == [100, 80]
    assert data["hints"][0] == {"x": 12.5, "y": 40.0, "color": "#a1b2c3", "radius": 2.0}
    assert load_hints_file(path, SIZE) == hints


def test_a_keep_hint_holds_the_colour_there_is_without_hints():
    base = np.zeros((80, 100, 2), np.float32)
    base[..., 0] = 30.0  # the canvas's colour without hints: bluish
    red = Hint(((10.0, 40.0), (90.0, 40.0)), (255, 0, 0), 3.0)
    kept = keep_hint([(50.0, 40.0)], radius=5.0)
    chroma, mask = rasterize([red, kept], SIZE, base=base)
    assert mask[40, 50] == 1 and mask[40, 20] == 1
    np.testing.assert_array_equal(chroma[40, 50], [30.0, 0.0])  # painted over the red: the base
    assert chroma[40, 20, 1] > 100  # the red stays where the keep hint is not
    chroma, _ = rasterize([kept], SIZE)  # no base (an engine without automatic colour): grey
    np.testing.assert_array_equal(chroma[40, 50], [0.0, 0.0])


def test_paint_exact_gives_a_keep_hints_pixels_back_their_solved_colour():
    solved = np.full((80, 100, 2), 7.0, np.float32)
    red = Hint(((10.0, 40.0), (90.0, 40.0)), (255, 0, 0), 3.0)
    kept = keep_hint([(50.0, 40.0)], radius=5.0)
    out = paint_exact(solved.copy(), [red, kept])
    np.testing.assert_array_equal(out[40, 50], [7.0, 7.0])  # the red painted before it is undone there
    assert out[40, 20, 1] > 100
    out = paint_exact(solved.copy(), [kept, red])  # a later colour hint paints over a keep hint
    assert out[40, 50, 1] > 100


def test_keep_hints_round_trip_in_a_version_2_file(tmp_path):
    hints = (point_hint(12.5, 40, (161, 178, 195), 2), keep_hint([(1.0, 2.0), (30.0, 40.0)], 6.0))
    path = tmp_path / "h.json"
    save_hints_file(path, hints, SIZE)
    data = json.loads(path.read_text())
    # An older ColorMe reads version 1 only, and would have taken the keep hint for a grey one.
    assert data["version"] == 2
    assert data["hints"][1] == {"points": [[1.0, 2.0], [30.0, 40.0]], "keep": True, "radius": 6.0}
    assert load_hints_file(path, SIZE) == hints
    assert load_hints_file(path, SIZE)[1].keep


@pytest.mark.parametrize("keep", ["yes", 1, None])
def test_keep_must_be_true_or_false(tmp_path, keep):
    payload = {"version": 2, "image_size": [100, 80], "hints": [{"x": 1, "y": 2, "keep": keep}]}
    with pytest.raises(HintsFileError, match="'keep' must be true or false"):
        load_hints_file(_write(tmp_path, payload), SIZE)


def _write(tmp_path, payload):
    path = tmp_path / "bad.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


GOOD = {"version": 1, "image_size": [100, 80], "hints": [{"x": 1, "y": 2, "color": "#ffffff", "radius": 2}]}


@pytest.mark.parametrize("payload, message", [
    ("{not json", "not valid JSON"),
    ('{"version": 1, "image_size": [100, 80], "hints": [{"x": NaN, "y": 1, "color": "#ffffff"}]}', "NaN"),
    ('{"version": 1, "image_size": [100, 80], "hints": [{"x": Infinity, "y": 1, "color": "#ffffff"}]}',
     "Infinity"),
    ({**GOOD, "version": HINTS_FILE_VERSION + 1}, "newer"),
    ({**GOOD, "version": "1"}, "version"),
    ({**GOOD, "image_size": [100]}, "image_size"),
    ({**GOOD, "hints": {"x": 1}}, "must be a list"),
    ({**GOOD, "hints": [{"x": "1", "y": 2, "color": "#ffffff"}]}, "must be a number"),
    ({**GOOD, "hints": [{"x": 1, "y": 2, "color": "red"}]}, "#rrggbb"),
    ({**GOOD, "hints": [{"x": 1, "y": 2, "color": "#gggggg"}]}, "#rrggbb"),
    ({**GOOD, "hints": [{"x": 1, "y": 2}]}, "hint 1 has no colour"),  # was "None is not a colour"
    ({**GOOD, "hints": [{"x": 1e9, "y": 2, "color": "#ffffff"}]}, "outside"),
    ({**GOOD, "hints": [{"x": 1, "y": 2, "color": "#ffffff", "radius": -1}]}, "radius"),
    ({**GOOD, "hints": [{"points": [[1, 2, 3]], "color": "#ffffff"}]}, "\\[x, y\\]"),
    ({**GOOD, "hints": [{"color": "#ffffff"}]}, "neither"),
    ({**GOOD, "hints": [{"points": [[1, 1]] * 1_000_001, "color": "#ffffff"}]}, "more than"),
])
def test_bad_hints_files_are_refused(tmp_path, payload, message):
    with pytest.raises(HintsFileError, match=message):
        load_hints_file(_write(tmp_path, payload))


def test_hints_for_another_image_size_are_refused(tmp_path):
    with pytest.raises(HintsFileError, match="100 x 80"):
        load_hints_file(_write(tmp_path, GOOD), (200, 80))


def test_history_undo_redo_and_new_edit_clears_redo():
    a, b, c = (point_hint(i, i, (i, i, i)) for i in range(3))
    history = HintHistory()
    history.push((a,))
    history.push((a, b))
    assert history.undo() == (a,)
    assert history.undo() == ()
    assert not history.can_undo()
    assert history.redo() == (a,)
    history.push((a, c))
    assert not history.can_redo()
    assert history.current == (a, c)


def test_history_is_bounded():
    history = HintHistory(max_steps=5)
    for i in range(20):
        history.push((point_hint(i, i, (0, 0, 0)),))
    steps = 0
    while history.can_undo():
        history.undo()
        steps += 1
    assert steps == 5


def test_distance_to_stroke():
    stroke = Hint(((0.0, 0.0), (10.0, 0.0)), (0, 0, 0), 1.0)
    assert math.isclose(stroke.distance_to(5, 3), 3.0)
    assert math.isclose(stroke.distance_to(13, 4), 5.0)


def test_later_hints_paint_over_earlier_ones_where_they_overlap():
    red_stroke = Hint(((10.0, 40.0), (90.0, 40.0)), (220, 20, 20), 3.0)
    blue_dot = point_hint(50, 40, (20, 20, 220), radius=5)
    chroma, mask = rasterize([red_stroke, blue_dot, point_hint(80, 40, (20, 220, 20), 0.2)], SIZE)
    assert chroma[40, 50, 0] > 50  # blue (strong Cb) on top of the red stroke
    assert chroma[40, 20, 1] > 50  # red elsewhere along the stroke
    assert chroma[40, 80, 1] < 0 and chroma[40, 80, 0] < 0  # the single green pixel is on top
    assert mask[40, 10:90].all()


@pytest.mark.parametrize("text", ["#-1-1-1", "#+f+f+f", "# f f f", "#0x1234", "#12345\n", "#ABCDEF "])
def test_colours_are_exactly_six_hex_digits(tmp_path, text):
    payload = {**GOOD, "hints": [{"x": 1, "y": 2, "color": text}]}
    with pytest.raises(HintsFileError, match="#rrggbb"):
        load_hints_file(_write(tmp_path, payload))


def test_upper_case_colours_and_a_byte_order_mark_are_accepted(tmp_path):
    path = tmp_path / "h.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({**GOOD, "hints": [{"x": 1, "y": 2, "color": "#A1B2C3"}]}).encode())
    assert load_hints_file(path)[0].color == (161, 178, 195)


def test_paint_exact_sets_exactly_the_pixels_under_each_hint():
    from colorme_desktop.core.hints import paint_exact

    chroma = np.zeros((50, 80, 2), dtype=np.float32)
    hints = [point_hint(10.5, 10.5, (200, 20, 20), radius=2),
             Hint(((40.0, 30.0), (70.0, 30.0)), (20, 20, 200), 1.5),
             point_hint(79.5, 49.5, (20, 200, 20), radius=3)]  # partly outside the photo
    expected_colour, expected_mask = rasterize(hints, (80, 50))
    out = paint_exact(chroma.copy(), hints)
    assert np.allclose(out[expected_mask > 0], expected_colour[expected_mask > 0], atol=1e-3)
    assert not out[expected_mask == 0].any()


def test_finish_settles_a_hint_over_its_own_region_and_stops_at_an_edge():
    from colorme_desktop.core.hints import finish

    grey = np.full((64, 64), 100, np.uint8)
    grey[:, 40:] = 200  # a strong edge 8 px right of the hint
    working = np.zeros((16, 16, 2), np.float32)  # a working-size result four times smaller
    hint = point_hint(32.5, 32.5, (220, 60, 40), radius=2)
    wanted = rasterize([hint], (64, 64))[0][32, 32]
    plain = finish(working, grey, [hint], edge_aware=False)  # no guide: nothing settled
    settled = finish(working, grey, [hint])
    ring = (slice(29, 36), slice(29, 36))  # the 7 x 7 patch around the dot
    assert np.abs(plain[ring] - wanted).mean() > 10  # only the dot itself is exact
    assert np.abs(settled[ring] - wanted).max() < 1.0  # same grey, one working pixel away
    assert np.abs(settled[:, 41:]).max() < 1.0  # the brighter side of the edge keeps its colour
    assert np.abs(settled[32, 16:22] - wanted).min() > 1.0  # and far from the brush it fades out


def _count_drawings(monkeypatch) -> list:
    from colorme_desktop.core import hints as module

    drawn, draw = [], module._brush
    monkeypatch.setattr(module, "_brush", lambda *args: drawn.append(1) or draw(*args))
    return drawn


def test_brushes_kept_between_calls_paint_the_same_as_drawn_anew(monkeypatch):
    """The drafts of a stroke repaint every earlier hint: kept, the drawing must come out
    to the same bytes while the result under it changes, and be drawn anew on another photo."""
    from colorme_desktop.core.hints import BrushCache, finish

    drawn = _count_drawings(monkeypatch)
    rng = np.random.default_rng(3)
    grey = cv2.GaussianBlur(rng.integers(0, 256, (90, 140)).astype(np.uint8), (9, 9), 3)
    hints = [point_hint(30.5, 40.5, (220, 60, 40), radius=3),
             Hint(((50.0, 20.0), (120.0, 70.0)), (40, 90, 220), 5.0),
             point_hint(60.0, 45.0, (40, 200, 60), radius=2)]  # over the stroke: order matters
    brushes = BrushCache()
    for step in range(3):  # a new working-size result each time, as each draft brings
        working = rng.normal(0, 20, (23, 35, 2)).astype(np.float32)
        kept = finish(working, grey, hints, brushes=brushes)
        assert len(drawn) == (3 if step == 0 else 0)  # drawn for the first call only
        assert np.array_equal(kept, finish(working, grey, hints))
        drawn.clear()
    other = 255 - grey  # another photo of the same size: its edges, not the first one's
    working = rng.normal(0, 20, (23, 35, 2)).astype(np.float32)
    assert np.array_equal(finish(working, other, hints, brushes=brushes), finish(working, other, hints))
    rgb = np.dstack([grey, other, grey])  # recolouring looks at the colour photo
    assert np.array_equal(finish(working, grey, hints, base_rgb=rgb, brushes=brushes),
                          finish(working, grey, hints, base_rgb=rgb))


def test_a_brush_too_large_to_keep_is_drawn_each_time(monkeypatch):
    from colorme_desktop.core.hints import BrushCache, paint_exact

    drawn = _count_drawings(monkeypatch)
    grey = np.full((200, 300), 120, np.uint8)
    stroke = Hint(((10.0, 100.0), (290.0, 100.0)), (200, 40, 40), 60.0)
    brushes = BrushCache(max_bytes=4096)
    first = paint_exact(np.zeros((200, 300, 2), np.float32), [stroke], grey, settle=4.0, brushes=brushes)
    again = paint_exact(np.zeros((200, 300, 2), np.float32), [stroke], grey, settle=4.0, brushes=brushes)
    assert np.array_equal(first, again) and np.abs(first[100, 150]).sum() > 10
    assert len(drawn) == 2  # not kept past the bound


def test_a_brush_stops_where_the_grey_under_its_path_ends():
    """A roof's wide brush over the sky: the sky pixels under it are left to the propagation."""
    grey = np.full((40, 60), 200, dtype=np.uint8)
    grey[:, :30] = 80  # a dark roof on the left, a light sky on the right
    stroke = Hint(((10.0, 20.0), (24.0, 20.0)), (200, 160, 40), 8.0)  # its brush reaches x = 32
    _, drawn = rasterize([stroke], (60, 40))
    _, kept = rasterize([stroke], (60, 40), grey=grey)
    assert drawn[20, 31] == 1 and kept[20, 31] == 0  # sky under the brush: dropped
    assert (kept[:, :30] == drawn[:, :30]).all()  # the roof under the brush: all kept
    assert kept.sum() < drawn.sum()


def test_a_brush_on_texture_keeps_what_its_path_crossed():
    rng = np.random.default_rng(0)
    grey = rng.integers(60, 140, size=(40, 60)).astype(np.uint8)  # foliage: many greys
    stroke = Hint(((5.0, 20.0), (55.0, 20.0)), (40, 160, 40), 4.0)
    _, drawn = rasterize([stroke], (60, 40))
    _, kept = rasterize([stroke], (60, 40), grey=grey)
    assert kept.sum() > 0.75 * drawn.sum()  # the path saw the range of greys the brush covers


def test_paint_exact_leaves_the_other_side_of_an_edge_to_the_engine():
    from colorme_desktop.core.hints import paint_exact

    grey = np.full((40, 60), 200, dtype=np.uint8)
    grey[:, :30] = 80
    stroke = Hint(((10.0, 20.0), (24.0, 20.0)), (200, 160, 40), 8.0)
    out = paint_exact(np.zeros((40, 60, 2), np.float32), [stroke], grey)
    assert np.abs(out[20, 20]).sum() > 10  # on the roof: the hint's colour
    assert not out[20, 31].any()  # under the brush but on the sky: as the engine made it


def test_recolouring_keeps_the_likest_small_pixel_of_a_click_on_texture():
    """A click's 5 x 5 sample of leaves can be unlike the averaged pixel of the working-size
    canvas under it; that pixel still carries the hint (else the click colours its dot only),
    but a pixel far unlike it (ground beside a thin thing) does not."""
    from colorme_desktop.core.hints import RECOLOUR_MATCH

    rgb = np.zeros((200, 200, 3), np.uint8)
    rgb[..., 1] = 90
    rgb[::2, ::2] = (60, 160, 60)  # a fine texture: the 5 x 5 sample and the 10 x 10 averages differ
    rgb[98:105, 98:105] = (60, 150, 60)  # a lighter leaf under the click
    small = cv2.resize(rgb, (20, 20), interpolation=cv2.INTER_AREA)
    click = point_hint(101.0, 101.0, (200, 40, 40), radius=2)
    sample = rgb[99:104, 99:104].reshape(-1, 3).mean(axis=0)
    unlike = np.linalg.norm(small[10, 10].astype(float) - sample)
    assert RECOLOUR_MATCH < unlike <= 2 * RECOLOUR_MATCH  # the case this is about
    _, mask = rasterize([click], (20, 20), scale=0.1, photo=(rgb, small))
    assert mask.sum() == 1
    far = rgb.copy()
    far[95:108, 95:108] = (250, 250, 250)  # a small white thing on the dark texture
    far_small = cv2.resize(far, (20, 20), interpolation=cv2.INTER_AREA)
    _, mask = rasterize([point_hint(101.0, 101.0, (200, 40, 40), radius=2)], (20, 20), scale=0.1,
                        photo=(far, far_small))
    assert np.linalg.norm(far_small[10, 10].astype(float) - far[99:104, 99:104].reshape(-1, 3).mean(axis=0)) \
        > 2 * RECOLOUR_MATCH
    assert mask.sum() == 0


def test_settling_around_a_click_fades_out_instead_of_ending_in_a_square():
    """A grey click on a pink wall of a 3600 px photo left a hard-edged square: the
    correction was still whole where the settling's box ended (a walk-through)."""
    from colorme_desktop.core.hints import paint_exact

    chroma = np.zeros((200, 200, 2), dtype=np.float32)
    chroma[..., 1] = 40.0  # pink all over
    grey = np.full((200, 200), 150, dtype=np.uint8)
    out = paint_exact(chroma.copy(), [point_hint(100.0, 100.0, (150, 150, 150), 3.0)], grey, settle=19.0)
    row = out[100, :, 1]
    assert abs(row[100]) < 1.0 and abs(row[100 + 3 + 19]) < 1.0  # the click, and one working pixel on
    assert abs(row[0] - 40.0) < 1.0  # far away, as it was
    assert np.abs(np.diff(row)).max() < 6.0  # no edge: at most 6 of the 40 levels between neighbours

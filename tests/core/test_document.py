"""The document: one owner of the photo, the hints, the brush and what is saved."""

import numpy as np
import pytest

from colorme_desktop.core.document import (
    RADIUS_DEFAULT,
    RADIUS_MAX,
    RADIUS_MIN,
    Change,
    Document,
    Tool,
    Unsaved,
    clamp_radius,
)
from colorme_desktop.core.hints import point_hint
from colorme_desktop.core.imageio import LoadedImage
from colorme_desktop.core.text import plural


def _photo(name="photo.png", size=(40, 30)) -> LoadedImage:
    from pathlib import Path

    return LoadedImage(grey=np.full((size[1], size[0]), 100, np.uint8), rgb=None, path=Path(name))


@pytest.fixture
def doc():
    changes = []
    document = Document(changes.append)
    document.changes = changes  # what listeners heard, for the tests
    document.open(_photo())
    changes.clear()
    return document


def _result_for(doc):
    return np.zeros((30, 40, 3), np.uint8), doc.render_key()


def test_listeners_hear_each_kind_of_change(doc):
    doc.add_hint(point_hint(5, 5, (200, 0, 0)))
    doc.select(0)
    doc.set_radius(7)
    doc.set_saturation(1.5)
    heard = Change.NONE
    for change in doc.changes:
        heard |= change
    assert Change.HINTS in heard and Change.SELECTION in heard and Change.BRUSH in heard
    assert Change.RENDER in heard


def test_a_stroke_previews_and_then_is_one_undo_step(doc):
    doc.preview_stroke([(1, 1)])
    doc.preview_stroke([(1, 1), (5, 5), (9, 9)])
    assert doc.hints == () and len(doc.shown_hints) == 1  # shown, not yet committed
    doc.finish_stroke([(1, 1), (5, 5), (9, 9)])
    assert len(doc.hints) == 1 and doc.hints[0].points[-1] == (9.0, 9.0)
    assert doc.hints[0].radius == doc.brush.radius and doc.hints[0].color == doc.brush.colour
    doc.undo()
    assert doc.hints == () and not doc.can_undo()


def test_moving_a_hint_is_one_undo_step_and_stays_on_the_photo(doc):
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    doc.set_tool(Tool.SELECT)
    doc.select(doc.hint_at(10.5, 10.5))
    assert doc.selected == 0
    for step in range(1, 6):
        doc.preview_move(step, step)
    assert doc.shown_hints[0].points[0] == (15.0, 15.0) and doc.hints[0].points[0] == (10.0, 10.0)
    doc.finish_move(100, 5)  # past the right edge: stops at it
    assert doc.hints[0].points[0] == (40.0, 15.0)
    doc.undo()
    assert doc.hints[0].points[0] == (10.0, 10.0)
    doc.undo()  # the whole drag was a single step: the next undo takes the hint away
    assert doc.hints == ()


def test_a_move_that_ends_where_it_began_adds_no_step(doc):
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    doc.select(0)
    doc.preview_move(3, 0)
    doc.finish_move(0, 0)
    doc.undo()
    assert doc.hints == ()


def test_colour_recolours_the_selected_hint_in_one_step(doc):
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    doc.add_hint(point_hint(30, 20, (0, 0, 200)))
    doc.select(doc.hint_at(30, 20))
    assert doc.brush.colour == (0, 0, 200)  # selecting shows the hint's colour
    doc.set_colour((0, 200, 0))
    assert [h.color for h in doc.hints] == [(200, 0, 0), (0, 200, 0)]
    doc.undo()
    assert [h.color for h in doc.hints] == [(200, 0, 0), (0, 0, 200)]


def test_a_keep_hint_keeps_its_kind_when_moved_and_takes_a_colour_in_one_step(doc):
    doc.set_colour((200, 0, 0))
    doc.set_tool(Tool.KEEP)
    doc.finish_stroke([(10, 10), (20, 10)])
    assert doc.hints[0].keep and doc.hint_colours() == []
    doc.set_tool(Tool.SELECT)
    doc.select(0)
    assert doc.brush.colour == (200, 0, 0)  # a keep hint has no colour to show as the brush's
    doc.finish_move(5, 5)
    assert doc.hints[0].keep and doc.hints[0].points == ((15.0, 15.0), (25.0, 15.0))
    doc.set_colour((0, 200, 0))  # a colour given to it makes it a colour hint
    assert not doc.hints[0].keep and doc.hints[0].color == (0, 200, 0)
    doc.undo()
    assert doc.hints[0].keep

def test_hint_at_finds_the_topmost_within_tolerance(doc):
    doc.add_hint(point_hint(10, 10, (1, 1, 1), radius=3))
    doc.add_hint(point_hint(11, 10, (2, 2, 2), radius=3))
    assert doc.hint_at(10.5, 10) == 1
    assert doc.hint_at(25, 25) is None
    assert doc.hint_at(16, 10, tolerance=3) == 1


def test_radius_is_clamped_and_a_bad_stored_value_falls_back():
    assert clamp_radius(0.98) == RADIUS_MIN
    assert clamp_radius(1e6) == RADIUS_MAX
    assert clamp_radius(float("nan")) == RADIUS_DEFAULT
    assert clamp_radius("garbage") == RADIUS_DEFAULT
    doc = Document()
    doc.set_radius(0.2)
    assert doc.brush.radius == RADIUS_MIN


def test_image_and_hints_have_their_own_saved_state(doc, tmp_path):
    assert doc.unsaved() == []  # a photo just opened holds no work
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    assert doc.unsaved() == [Unsaved.HINTS, Unsaved.IMAGE]
    doc.set_result(*_result_for(doc))
    doc.request_image_save(tmp_path / "out.png")
    save = doc.take_image_save()
    doc.image_saved(save)
    # Saving the image does not save the hints: closing now would still lose them.
    assert doc.unsaved() == [Unsaved.HINTS] and doc.output_path == tmp_path / "out.png"
    doc.hints_saved(doc.hints, tmp_path / "h.json")
    assert doc.unsaved() == []
    doc.set_saturation(0.5)
    assert doc.unsaved() == [Unsaved.IMAGE]  # the hints file does not hold the saturation


def test_a_save_waits_for_the_result_of_the_current_hints(doc, tmp_path):
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    old = _result_for(doc)
    doc.add_hint(point_hint(20, 10, (0, 200, 0)))
    doc.request_image_save(tmp_path / "out.png")
    doc.set_result(*old)
    assert not doc.result_is_current and doc.take_image_save() is None
    doc.set_result(*_result_for(doc))
    save = doc.take_image_save()
    assert save is not None and save.key.hints == doc.hints
    assert doc.take_image_save() is None  # taken once


def test_a_save_finished_for_older_hints_leaves_the_newer_unsaved(doc, tmp_path):
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    doc.set_result(*_result_for(doc))
    doc.request_image_save(tmp_path / "out.png")
    save = doc.take_image_save()
    doc.add_hint(point_hint(20, 10, (0, 200, 0)))  # painted while the file was written
    doc.image_saved(save)
    assert Unsaved.IMAGE in doc.unsaved()


def test_results_for_a_previous_photo_are_dropped(doc):
    rgb, key = _result_for(doc)
    doc.open(_photo("other.png"))
    doc.set_result(rgb, key)
    assert doc.result is None


def test_restored_hints_are_unsaved_and_loaded_hints_are_saved(doc, tmp_path):
    hints = (point_hint(10, 10, (200, 0, 0)),)
    doc.open(_photo(), hints)
    assert Unsaved.HINTS in doc.unsaved()
    doc.hints_loaded(hints, tmp_path / "h.json")
    assert Unsaved.HINTS not in doc.unsaved() and doc.hints_path == tmp_path / "h.json"


def test_hint_colours_in_the_order_first_painted(doc):
    for colour in [(1, 1, 1), (2, 2, 2), (2, 2, 2), (3, 3, 3), (1, 1, 1)]:
        doc.add_hint(point_hint(5, 5, colour))
    assert doc.hint_colours() == [(1, 1, 1), (2, 2, 2), (3, 3, 3)]


def test_other_tools_drop_the_selection(doc):
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    doc.set_tool(Tool.SELECT)
    doc.select(0)
    doc.set_tool(Tool.PAINT)
    assert doc.selected is None


def test_plural():
    assert plural(1, "hint") == "1 hint"
    assert plural(0, "hint") == "0 hints"
    assert plural(3, "unsaved hint") == "3 unsaved hints"


def _colour_photo(name="reference.png") -> LoadedImage:
    from pathlib import Path

    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 0] = 200
    return LoadedImage(grey=np.full((30, 40), 60, np.uint8), rgb=rgb, path=Path(name))


def test_a_reference_photo_changes_the_image_and_so_leaves_it_unsaved(doc, tmp_path):
    assert doc.unsaved() == []
    doc.set_reference(_colour_photo())
    assert doc.unsaved() == [Unsaved.IMAGE]
    doc.set_result(*_result_for(doc))
    doc.request_image_save(tmp_path / "out.png")
    doc.image_saved(doc.take_image_save())
    assert doc.unsaved() == []
    doc.set_reference(None)  # back to automatic colour: not what was saved either
    assert doc.unsaved() == [Unsaved.IMAGE]


def test_a_photo_opened_while_a_reference_is_in_use_starts_saved(doc):
    doc.set_reference(_colour_photo())
    doc.open(_photo("next.png"))
    assert doc.unsaved() == []


def test_a_colour_photo_is_recoloured_from_its_own_colours_unless_a_reference_or_the_user_says_not(doc):
    assert not doc.render_key().own_colours  # a grey photo has none
    doc.open(_colour_photo("colour.png"))
    assert doc.render_key().own_colours and doc.unsaved() == []
    doc.set_keep_own_colours(False)
    assert not doc.render_key().own_colours
    assert doc.unsaved() == [Unsaved.IMAGE]  # the image would now come out otherwise
    doc.set_keep_own_colours(True)
    assert doc.unsaved() == []
    doc.set_reference(_colour_photo())
    assert not doc.render_key().own_colours  # the chosen reference photo decides the colours


def test_saving_records_whether_the_photos_own_colours_were_kept(doc, tmp_path):
    doc.open(_colour_photo("colour.png"))
    doc.set_keep_own_colours(False)
    doc.set_result(*_result_for(doc))
    doc.request_image_save(tmp_path / "out.png")
    doc.image_saved(doc.take_image_save())
    assert doc.unsaved() == []
    doc.set_keep_own_colours(True)
    assert doc.unsaved() == [Unsaved.IMAGE]


def test_the_brush_keeps_its_size_in_proportion_to_each_photo():
    """64 px chosen on a 5000 px scan was a tenth of the 640 px photo opened next, and on the
    scan itself the largest brush was 1 % of its width (a walk-through)."""
    doc = Document()
    doc.open(_photo(size=(640, 427)))
    assert doc.radius_max == RADIUS_MAX
    doc.set_radius(4.0)
    doc.open(_photo("scan.tif", size=(5000, 3336)))
    assert doc.brush.radius == 32.0  # 4 x 5000 / 640 = 31.25, as a size [ and ] step through
    assert doc.radius_max == 312  # 64 per 1024 px of the long side
    doc.set_radius(1000.0)
    assert doc.brush.radius == 312
    doc.open(_photo(size=(427, 640)))  # portrait: the long side counts
    assert doc.brush.radius == 40.0  # 312 x 640 / 5000 = 39.9
    doc.open(_photo(size=(640, 480)))
    assert doc.brush.radius == 40.0  # same long side: as it was
    restarted = Document()
    restarted.restore_brush_radius(200.0, 5000)  # kept from a session on the scan
    assert restarted.brush.radius == 200.0
    restarted.open(_photo(size=(1000, 800)))
    assert restarted.brush.radius == 40.0
    from colorme_desktop.core.document import radius_max_for
    from colorme_desktop.core.hints import MAX_RADIUS

    assert radius_max_for((20000, 9000)) == MAX_RADIUS  # a hints file must open again
    junk = Document()
    junk.restore_brush_radius("wide", -3)
    assert junk.brush.radius == RADIUS_DEFAULT and junk.brush_choice == (RADIUS_DEFAULT, None)


def test_a_tiny_photo_does_not_resize_the_brush_for_the_next_ones():
    """After an 8 x 14 px image clamped the brush to 1 px, a 6000 px photo opened with a
    375 px brush, and every later photo in proportion (a walk-through)."""
    first = Document()  # a tiny photo first, the brush as it came: not a choice either
    first.open(_photo("tiny.png", size=(8, 14)))
    first.open(_photo("scan.png", size=(6000, 4723)))
    assert first.brush.radius == RADIUS_DEFAULT and first.brush_choice == (RADIUS_DEFAULT, None)
    doc = Document()
    doc.open(_photo(size=(500, 375)))
    doc.set_radius(3.0)
    doc.open(_photo("tiny.png", size=(8, 14)))
    assert doc.brush.radius == RADIUS_MIN  # as small as a brush goes
    assert doc.brush_choice == (3.0, 500)  # not a choice: the next photo is sized from 3 px on 500
    doc.open(_photo("scan.png", size=(6000, 4723)))
    assert doc.brush.radius == 40.0  # 3 x 6000 / 500 = 36
    doc.open(_photo(size=(500, 375)))
    assert doc.brush.radius == 3.0
    doc.open(_photo("tiny.png", size=(8, 14)))
    doc.set_radius(2.0)  # chosen on the tiny one: that is the user's choice
    doc.open(_photo(size=(500, 375)))
    assert doc.brush_choice == (2.0, 14) and doc.brush.radius == 64.0  # 2 x 500 / 14, at most 64

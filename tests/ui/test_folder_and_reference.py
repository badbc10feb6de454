"""File > Colorize Folder... and File > Colours From Photo..., as a user meets them."""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from colorme_desktop.batch import ItemResult
from colorme_desktop.core.batch_plan import BatchItem
from colorme_desktop.core.color import chroma_of
from colorme_desktop.engines.levin import LevinEngine
from colorme_desktop.ui.batch_dialog import BatchSummary, FolderDialog, FolderJob, record
from tests.engines.test_reference import swapped_pair
from tests.helpers import colourful_rgb
from tests.ui.conftest import ScriptedPrompts


def _album(tmp_path, count: int, broken: bool = False):
    folder = tmp_path / "album"
    folder.mkdir()
    for i in range(count):
        Image.fromarray(colourful_rgb(40, 56, seed=i)).convert("L").save(folder / f"photo{i}.png")
    if broken:
        (folder / "broken.jpg").write_bytes(b"not a photo at all")
    return folder


def _start(make_window, tmp_path, folder, **job):
    prompts = ScriptedPrompts()
    prompts.folder_job_answer = FolderJob(folder, tmp_path / "out", jobs=1, **job)
    win = make_window(prompts=prompts)
    win.colorize_folder_action.trigger()
    return win, prompts


def test_colorize_folder_writes_every_photo_and_lists_the_failures(qtbot, make_window, tmp_path):
    folder = _album(tmp_path, 2, broken=True)
    win, prompts = _start(make_window, tmp_path, folder, fmt="jpg")
    qtbot.waitUntil(lambda: bool(prompts.summaries), timeout=10000)
    summary = prompts.summaries[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["photo0.jpg", "photo1.jpg"]
    assert summary.written == 2
    assert [source.name for source, _ in summary.failures] == ["broken.jpg"]
    assert "1 photo failed" in summary.text() and "broken.jpg" in summary.details()
    assert win.colorize_folder_action.isEnabled()  # ready for the next folder


def test_photos_the_plan_refused_count_as_failed_but_not_as_run():
    """A cancelled run is one that left photos undone; photos the plan refused were never
    run, so they must not make a cancelled run look finished."""
    from pathlib import Path

    summary = BatchSummary(refused=[(Path("a.png"), "a.png is the photo itself")])
    for name, error in (("b.png", None), ("c.png", "damaged")):
        record(summary, ItemResult(BatchItem(Path(name), Path("out") / name), error=error))
    assert summary.finished == 2  # of, say, three planned: one left undone by a cancel
    assert "2 photos failed" in summary.text()
    assert summary.details().splitlines() == ["a.png: a.png is the photo itself", "c.png: damaged"]

def test_a_second_run_skips_what_is_done(qtbot, make_window, tmp_path):
    folder = _album(tmp_path, 2)
    (tmp_path / "out").mkdir()
    Image.fromarray(colourful_rgb(40, 56)).save(tmp_path / "out" / "photo0.png")
    win, prompts = _start(make_window, tmp_path, folder)
    qtbot.waitUntil(lambda: bool(prompts.summaries), timeout=10000)
    assert (prompts.summaries[0].written, prompts.summaries[0].skipped) == (1, 1)


class _OwnColours(LevinEngine):
    """Recolours as the semantic engine does: a colour photo without hints as it came in."""

    name = "semantic"

    def colorize(self, grey, hints, draft=False, shown=None, photo_rgb=None):
        return chroma_of(photo_rgb) if photo_rgb is not None else super().colorize(grey, hints, draft, shown)


def _summary_keeping_own_colours(qtbot, make_window, tmp_path, folder):
    """The summary of colorizing ``folder`` with an engine that keeps colour photos' own colours."""
    prompts = ScriptedPrompts()
    prompts.folder_job_answer = FolderJob(folder, tmp_path / "out", jobs=1)
    engine = _OwnColours()
    win = make_window(prompts=prompts, engine_factory=lambda name: (engine, None))
    win.colorize_folder_action.trigger()
    qtbot.waitUntil(lambda: bool(prompts.summaries), timeout=10000)
    return prompts.summaries[0]


def test_the_summary_says_when_colour_photos_kept_their_own_colours(qtbot, make_window, tmp_path):
    folder = _album(tmp_path, 1)
    Image.fromarray(colourful_rgb(40, 56, seed=9)).save(folder / "colour.png")
    text = _summary_keeping_own_colours(qtbot, make_window, tmp_path, folder).text()
    assert text.startswith("Colorized 2 photos") and "1 colour photo without hints kept its own colours" in text
    assert not text.endswith(":")


def test_the_summary_says_which_kept_photos_look_like_toned_prints(qtbot, make_window, tmp_path):
    """An album of old sepia prints came back as it went in, the summary calling them
    colour photos (a walk-through)."""
    from tests.core.test_color import _sepia

    folder = tmp_path / "album"
    folder.mkdir()
    Image.fromarray(_sepia(colourful_rgb(40, 56, seed=3))).save(folder / "grandma.png")
    Image.fromarray(colourful_rgb(40, 56, seed=9)).save(folder / "colour.png")
    summary = _summary_keeping_own_colours(qtbot, make_window, tmp_path, folder)
    assert summary.kept_colours == 2 and [path.name for path in summary.toned] == ["grandma.png"]
    assert "grandma.png looks like a toned black-and-white print" in summary.text()
    assert "to colour it from its grey" in summary.text()


def test_opening_a_toned_print_says_how_to_colour_it(qtbot, make_window, tmp_path):
    from tests.core.test_color import _sepia

    path = tmp_path / "grandma.png"
    Image.fromarray(_sepia(colourful_rgb(40, 56, seed=3))).save(path)
    engine = _OwnColours()
    win = make_window(engine_factory=lambda name: (engine, None))
    win.open_path(path)
    message = win.statusBar().currentMessage()
    assert "toned black-and-white print" in message and "Keep a Colour Photo's Own Colours" in message
    assert len(message) < 140  # the status bar cut a longer one off at the default width
    Image.fromarray(colourful_rgb(40, 56, seed=9)).save(tmp_path / "colour.png")
    win.open_path(tmp_path / "colour.png")
    assert "toned" not in win.statusBar().currentMessage()


def test_redo_into_the_photos_own_folder_never_replaces_the_photos(qtbot, make_window, tmp_path):
    """"Redo photos whose result already exists" with the album as its own output folder:
    the results would be the photos themselves, which must stay as they are."""
    folder = _album(tmp_path, 2)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    prompts = ScriptedPrompts()
    prompts.folder_job_answer = FolderJob(folder, folder, jobs=1, overwrite=True, fmt="png")
    win = make_window(prompts=prompts)
    win.colorize_folder_action.trigger()
    qtbot.waitUntil(lambda: bool(prompts.summaries), timeout=10000)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert prompts.summaries[0].written == 0 and "the photo itself" in prompts.summaries[0].details()


def test_cancel_stops_handing_out_photos(qtbot, make_window, tmp_path, fake_engine):
    folder = _album(tmp_path, 5)
    fake_engine.gate = threading.Event()  # every photo waits until the test lets it go
    win, prompts = _start(make_window, tmp_path, folder)
    qtbot.waitUntil(lambda: fake_engine.calls >= 1, timeout=10000)
    assert win.folder_run.progress is not None and win.folder_run.progress.isVisible()
    (cancel,) = win.folder_run.progress.findChildren(QPushButton)
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    # The box stays up while the photo in progress finishes, and says so: hidden, it came
    # back with the next photo and the run seemed to go on (a walk-through).
    assert win.folder_run.progress.isVisible() and "Cancelling" in win.folder_run.progress.labelText()
    assert not cancel.isEnabled()
    fake_engine.gate.set()
    qtbot.waitUntil(lambda: bool(prompts.summaries), timeout=10000)
    summary = prompts.summaries[0]
    assert summary.cancelled and summary.written == 1  # the photo in progress, no other
    assert len(list((tmp_path / "out").iterdir())) == summary.written
    assert win.folder_run.thread is None and win.folder_run.progress is None


def test_a_cancel_during_the_last_photo_cancels_nothing(qtbot, make_window, tmp_path, fake_engine):
    """"Cancelled before the rest" was said with no photo left undone (a walk-through)."""
    folder = _album(tmp_path, 1)
    fake_engine.gate = threading.Event()
    win, prompts = _start(make_window, tmp_path, folder)
    qtbot.waitUntil(lambda: fake_engine.calls >= 1, timeout=10000)
    (cancel,) = win.folder_run.progress.findChildren(QPushButton)
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    fake_engine.gate.set()
    qtbot.waitUntil(lambda: bool(prompts.summaries), timeout=10000)
    assert prompts.summaries[0].written == 1 and not prompts.summaries[0].cancelled
    assert "cancelled" not in prompts.summaries[0].text()


def test_closing_the_window_stops_the_batch(qtbot, make_window, tmp_path, fake_engine):
    folder = _album(tmp_path, 6)
    fake_engine.delay = 0.2
    win, prompts = _start(make_window, tmp_path, folder)
    thread = win.folder_run.thread
    qtbot.waitUntil(lambda: fake_engine.calls >= 1, timeout=10000)
    win.close()
    assert not thread.isRunning()
    assert len(list((tmp_path / "out").iterdir())) < 6
    assert prompts.summaries == []  # no box pops up for a window that is gone


def test_the_folder_dialog_needs_both_folders(qtbot, tmp_path):
    dialog = FolderDialog(None, str(tmp_path))
    qtbot.addWidget(dialog)
    ok = dialog.buttons.buttons()[0]
    assert not ok.isEnabled()
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.recursive.setChecked(True)
    assert dialog.format.currentText() == "png"  # as on the command line, not the first in the alphabet
    dialog.format.setCurrentText("webp")
    dialog.jobs.setValue(1)
    assert ok.isEnabled()
    assert dialog.job() == FolderJob(tmp_path, tmp_path / "out", recursive=True, overwrite=False, fmt="webp", jobs=1)


def test_colours_from_a_photo_follow_content_and_can_be_cleared(qtbot, make_window, tmp_path):
    reference, target = swapped_pair()
    Image.fromarray(reference).save(tmp_path / "reference.png")
    Image.fromarray(target).convert("L").save(tmp_path / "grey.png")
    win = make_window(engine_factory=lambda name: (LevinEngine(), None))
    win.open_path(tmp_path / "grey.png")
    qtbot.waitUntil(lambda: win.document.result_is_current, timeout=10000)
    assert not win.palette_dock.reference_row.isVisible()

    assert win.set_reference(tmp_path / "reference.png")
    qtbot.waitUntil(lambda: win.document.result_is_current, timeout=20000)
    chroma = chroma_of(win.document.result)
    assert chroma[:, 10:70, 1].mean() < -15  # the flat part is blue, as in the reference
    assert chroma[:, 100:160, 1].mean() > 50  # the textured part red, though on the other side
    qtbot.waitUntil(win.palette_dock.reference_row.isVisible, timeout=10000)
    colours = [s.colour for s in win.palette_dock.from_reference if s.colour is not None]
    assert len(colours) >= 2
    reds = [c for c in colours if c[0] > c[2] + 60]
    blues = [c for c in colours if c[2] > c[0] + 60]
    assert reds and blues

    win.clear_reference_action.trigger()
    qtbot.waitUntil(lambda: win.document.result_is_current, timeout=10000)
    assert np.abs(chroma_of(win.document.result)).mean() < 2  # Levin with no hints: grey again
    assert not win.palette_dock.reference_row.isVisible()
    assert not win.clear_reference_action.isEnabled()


def test_the_folder_dialog_offers_the_last_job_again(qtbot, make_window, tmp_path):
    """A demanding user colorizes an album in several sittings: the folders, format and the
    rest come back (not "Redo": replacing finished results is asked for each time)."""
    folder = _album(tmp_path, 1)
    win, prompts = _start(make_window, tmp_path, folder, recursive=True, overwrite=True, fmt="webp")
    qtbot.waitUntil(lambda: bool(prompts.summaries), timeout=10000)
    win.colorize_folder_action.trigger()
    qtbot.waitUntil(lambda: len(prompts.summaries) == 2, timeout=10000)
    offered = prompts.asked[-1][2]
    assert offered == FolderJob(folder, tmp_path / "out", recursive=True, overwrite=False, fmt="webp", jobs=1)
    dialog = FolderDialog(None, str(tmp_path), offered)
    qtbot.addWidget(dialog)
    assert dialog.job() == offered


def test_a_grey_photo_cannot_be_the_reference(make_window, grey_photo):
    prompts = ScriptedPrompts()
    win = make_window(prompts=prompts)
    assert not win.set_reference(grey_photo)
    assert "grey" in prompts.errors[0]
    assert win.document.reference_rgb is None


def test_the_reference_palette_is_found_off_the_gui_thread(qtbot, make_window, tmp_path, monkeypatch):
    import colorme_desktop.ui.worker as worker_module

    threads = []
    real = worker_module.photo_colors

    def recording(rgb, *args, **kwargs):
        threads.append(threading.current_thread())
        return real(rgb, *args, **kwargs)

    monkeypatch.setattr(worker_module, "photo_colors", recording)
    reference, _ = swapped_pair()
    Image.fromarray(reference).save(tmp_path / "reference.png")
    win = make_window()
    assert win.set_reference(tmp_path / "reference.png")  # no photo open yet: the palette still comes
    qtbot.waitUntil(win.palette_dock.reference_row.isVisible, timeout=10000)
    assert threads and threading.main_thread() not in threads


def test_a_reference_change_marks_the_image_unsaved(qtbot, make_window, tmp_path, grey_photo):
    reference, _ = swapped_pair()
    Image.fromarray(reference).save(tmp_path / "reference.png")
    win = make_window()
    win.open_path(grey_photo)
    qtbot.waitUntil(lambda: win.document.result_is_current, timeout=10000)
    assert not win.isWindowModified()
    win.set_reference(tmp_path / "reference.png")
    assert win.isWindowModified()


def test_the_result_pane_names_the_colour_photo_in_use_on_every_photo(qtbot, make_window, tmp_path, grey_photo,
                                                                       colour_photo):
    """The colour photo stays in use for the photos opened after it; the pane says so."""
    reference, _ = swapped_pair()
    Image.fromarray(reference).save(tmp_path / "leaves.png")
    win = make_window()
    win.open_path(grey_photo)
    assert win.result_canvas.title == "Colorized"
    win.set_reference(tmp_path / "leaves.png")
    assert win.result_canvas.title == "Colorized from leaves.png"
    win.open_path(colour_photo)
    assert win.result_canvas.title == "Recoloured from leaves.png"
    win.set_reference(None)
    assert win.result_canvas.title == "Recoloured"


def test_an_unreadable_reference_says_why_and_keeps_the_one_in_use(qtbot, make_window, tmp_path):
    reference, _ = swapped_pair()
    Image.fromarray(reference).save(tmp_path / "reference.png")
    (tmp_path / "damaged.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    prompts = ScriptedPrompts()
    win = make_window(prompts=prompts)
    assert win.set_reference(tmp_path / "reference.png")
    assert not win.set_reference(tmp_path / "damaged.jpg")
    assert "damaged.jpg" in prompts.errors[0] and "not an image ColorMe can read" in prompts.errors[0]
    assert win.document.reference_path == tmp_path / "reference.png"
    assert not win.set_reference(tmp_path / "gone.jpg")
    assert "does not exist" in prompts.errors[1]


def test_the_colour_photo_in_use_is_named_for_an_album_and_can_be_left_out(qtbot, make_window, tmp_path):
    """A walk-through colorized a folder and found every photo coloured from the reference
    photo it had chosen for another one: the dialog had not said so."""
    reference, target = swapped_pair()
    Image.fromarray(reference).save(tmp_path / "reference.png")
    folder = tmp_path / "album"
    folder.mkdir()
    Image.fromarray(target).convert("L").save(folder / "photo.png")
    dialog = FolderDialog(None, str(folder), reference=tmp_path / "reference.png")
    qtbot.addWidget(dialog)
    assert "reference.png" in dialog.reference.text() and dialog.reference.isChecked()
    dialog.reference.setChecked(False)
    assert not dialog.job().use_reference

    for use in (False, True):
        prompts = ScriptedPrompts()
        out = tmp_path / f"out-{use}"
        prompts.folder_job_answer = FolderJob(folder, out, jobs=1, use_reference=use)
        win = make_window(prompts=prompts, engine_factory=lambda name: (LevinEngine(), None))
        assert win.set_reference(tmp_path / "reference.png")
        win.colorize_folder_action.trigger()
        qtbot.waitUntil(lambda p=prompts: bool(p.summaries), timeout=20000)
        assert prompts.asked[-1][3] == tmp_path / "reference.png"  # offered by name
        chroma = chroma_of(np.asarray(Image.open(out / "photo.png").convert("RGB")))
        if use:
            assert chroma[:, 10:70, 1].mean() < -15  # blue, as in the reference
        else:
            assert np.abs(chroma).mean() < 2  # Levin with no hints: grey


def test_opening_another_photo_says_that_colours_still_come_from_the_reference(qtbot, make_window, tmp_path,
                                                                              grey_photo):
    reference, _ = swapped_pair()
    Image.fromarray(reference).save(tmp_path / "reference.png")
    win = make_window(engine_factory=lambda name: (LevinEngine(), None))
    assert win.set_reference(tmp_path / "reference.png")
    win.open_path(grey_photo)
    message = win.statusBar().currentMessage()
    assert "colours still come from reference.png" in message and "Stop Using the Colour Photo" in message

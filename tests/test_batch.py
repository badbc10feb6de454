"""Whole albums: ``colorme colorize FOLDER -o FOLDER`` and the runner behind it."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorme_desktop.batch import BatchOptions, run_batch
from colorme_desktop.cli import main
from colorme_desktop.core.batch_plan import BatchItem, plan_batch
from colorme_desktop.core.color import luma
from tests.helpers import colourful_rgb

RED = "#dd2020"


def _grey(path: Path, seed: int = 0, size: tuple[int, int] = (40, 60)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(colourful_rgb(*size, seed=seed)).convert("L").save(path)
    return path


def _red_hints(photo: Path, x: int = 10, y: int = 10) -> Path:
    """A hints file beside ``photo`` under the name the app's Save Hints proposes."""
    path = photo.with_name(photo.stem + ".hints.json")
    path.write_text(json.dumps({"version": 1, "image_size": [60, 40],
                                "hints": [{"x": x, "y": y, "color": RED, "radius": 3}]}))
    return path


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


@pytest.fixture
def album(tmp_path: Path) -> Path:
    """An album with a sub-folder, three photos and one hints file."""
    root = tmp_path / "album"
    _grey(root / "a.png", 1)
    _grey(root / "b ü.jpg", 2)
    _grey(root / "1950s" / "c.tif", 3)
    _red_hints(root / "a.png")
    return root


def test_folder_in_tree_out_keeps_relative_paths(tmp_path, album, capsys):
    out = tmp_path / "out"
    assert main(["colorize", str(album), "-o", str(out), "--recursive", "--engine", "levin", "--jobs", "1"]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["1950s/c.png", "a.png", "b ü.png"]
    assert Image.open(out / "1950s" / "c.png").size == (60, 40)
    # A folder of photos is not a stream of notes: the bar is off (stderr is no terminal here)
    # and what remains is one summary line.
    assert capsys.readouterr().err.strip() == f"colorized 3 photos into {out}"


def test_without_recursive_only_the_top_folder(tmp_path, album):
    out = tmp_path / "out"
    assert main(["colorize", str(album), "-o", str(out), "--engine", "levin", "--format", "jpg"]) == 0
    assert sorted(p.name for p in out.rglob("*")) == ["a.jpg", "b ü.jpg"]


def test_hints_beside_a_photo_colour_it(tmp_path, album):
    out = tmp_path / "out"
    assert main(["colorize", str(album), "-o", str(out), "--engine", "levin", "--jobs", "1"]) == 0
    r, g, b = _pixels(out / "a.png")[10, 10]
    assert r > b + 40 and r > g + 40
    # b has no hints file, and Levin colours only where hints are: it stays grey.
    assert np.ptp(_pixels(out / "b ü.png"), axis=-1).max() <= 2


def test_existing_outputs_are_skipped_and_overwrite_redoes_them(tmp_path, album, capsys):
    out = tmp_path / "out"
    # A stand-in for a photo finished by an earlier, interrupted run.
    _grey(out / "a.png", size=(4, 4))
    assert main(["colorize", str(album), "-o", str(out), "--engine", "levin", "--jobs", "1"]) == 0
    assert Image.open(out / "a.png").size == (4, 4)
    assert Image.open(out / "b ü.png").size == (60, 40)
    assert "skipped 1 already done" in capsys.readouterr().err
    assert main(["colorize", str(album), "-o", str(out), "--engine", "levin", "--overwrite", "--jobs", "1"]) == 0
    assert Image.open(out / "a.png").size == (60, 40)


def test_a_broken_photo_does_not_stop_the_others(tmp_path, album, capsys):
    (album / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (album / "empty.jpg").write_bytes(b"")
    out = tmp_path / "out"
    code = main(["colorize", str(album), "-o", str(out), "--engine", "levin", "--jobs", "1"])
    err = capsys.readouterr().err
    assert code != 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b ü.png"]
    assert "2 photos failed" in err
    listed = [line for line in err.splitlines() if line.startswith("  ")]
    assert len(listed) == 2 and "broken.png" in listed[0] and "empty.jpg" in listed[1]
    assert "Traceback" not in err


def test_two_jobs_give_the_same_photos_as_one(tmp_path, album):
    for i in range(3):  # enough photos that both workers get some
        _red_hints(_grey(album / f"more{i}.png", 10 + i), x=20 + i, y=15)
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["colorize", str(album), "-o", str(one), "-r", "--engine", "levin", "--jobs", "1"]) == 0
    assert main(["colorize", str(album), "-o", str(two), "-r", "--engine", "levin", "--jobs", "2"]) == 0
    names = sorted(p.relative_to(one) for p in one.rglob("*.png"))
    assert names == sorted(p.relative_to(two) for p in two.rglob("*.png")) and len(names) == 6
    for name in names:
        assert np.array_equal(_pixels(one / name), _pixels(two / name)), name


def test_several_inputs_and_a_single_photo_into_a_folder(tmp_path, album):
    out = tmp_path / "out"
    out.mkdir()
    other = _grey(tmp_path / "elsewhere" / "d.png", 4)
    assert main(["colorize", str(album / "a.png"), str(other), "-o", str(out), "--engine", "levin"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "d.png"]
    # The single-file form still writes exactly the file named, whatever its folder holds.
    assert main(["colorize", str(other), "-o", str(out / "named.webp"), "--engine", "levin"]) == 0
    assert Image.open(out / "named.webp").format == "WEBP"


def test_several_photos_need_a_folder_not_a_file(tmp_path, album, capsys):
    target = tmp_path / "x.png"
    target.write_bytes(b"")
    assert main(["colorize", str(album / "a.png"), str(album / "b ü.jpg"), "-o", str(target)]) != 0
    assert "is a file" in capsys.readouterr().err


def test_photos_differing_only_in_extension_each_get_an_output(tmp_path):
    """photo.jpg, photo.png and photo.tif in one folder: one output was made and the others
    reported as failed (a walk-through)."""
    for suffix in (".png", ".jpg", ".tif"):
        _grey(tmp_path / "in" / f"x{suffix}")
    _grey(tmp_path / "in" / "y.png")
    plan = plan_batch([tmp_path / "in"], tmp_path / "out")
    assert not plan.problems
    assert sorted((item.source.name, item.output.name) for item in plan.items) == [
        ("x.jpg", "x-jpg.png"), ("x.png", "x-png.png"), ("x.tif", "x-tif.png"), ("y.png", "y.png")]


def test_every_page_of_a_multipage_tiff_is_colorized_with_its_own_hints(tmp_path, capsys):
    """An archive's TIFF of a print's front and back gives two results, NAME and NAME-page2,
    each with the hints saved for that page; an animation stays one photo."""
    scans = tmp_path / "in" / "scans.tif"
    scans.parent.mkdir()
    pages = [Image.fromarray(colourful_rgb(40, 60, seed=s)).convert("L") for s in (1, 2)]
    pages[0].save(scans, save_all=True, append_images=pages[1:])
    frames = [Image.fromarray(colourful_rgb(40, 60, seed=s)).convert("P") for s in (3, 4)]
    frames[0].save(scans.with_name("anim.gif"), save_all=True, append_images=frames[1:])
    (scans.parent / "scans-page2.hints.json").write_text(json.dumps(
        {"version": 1, "image_size": [60, 40], "hints": [{"x": 10, "y": 10, "color": RED, "radius": 3}]}))
    plan = plan_batch([scans.parent], tmp_path / "out")
    assert [(i.source.name, i.output.name, i.page, i.hints and i.hints.name) for i in plan.items] == [
        ("anim.gif", "anim.png", 0, None), ("scans.tif", "scans.png", 0, None),
        ("scans.tif", "scans-page2.png", 1, "scans-page2.hints.json")]
    assert main(["colorize", str(scans.parent), "-o", str(tmp_path / "out"), "--engine", "levin", "--jobs", "1"]) == 0
    second = _pixels(tmp_path / "out" / "scans-page2.png")
    assert np.abs(luma(second.astype(np.uint8)).astype(int) - np.asarray(pages[1])).max() <= 1  # page 2's grey
    r, g, b = second[10, 10]
    assert r > b + 40  # with its own hints
    assert np.ptp(_pixels(tmp_path / "out" / "scans.png"), axis=-1).max() <= 2  # page 1 has none
    err = capsys.readouterr().err
    assert "this is page" not in err and "animation of 2 frames" in err  # every page done: nothing to say

def test_plan_refuses_two_photos_onto_one_output(tmp_path):
    _grey(tmp_path / "a" / "x.png")
    _grey(tmp_path / "b" / "x.png", seed=1)
    plan = plan_batch([tmp_path / "a" / "x.png", tmp_path / "b" / "x.png"], tmp_path / "out")
    assert [item.source for item in plan.items] == [tmp_path / "a" / "x.png"]
    assert len(plan.problems) == 1 and "rename one" in plan.problems[0].message


def test_plan_never_rescans_its_own_output_or_half_saved_files(tmp_path):
    root = tmp_path / "album"
    _grey(root / "x.png")
    _grey(root / "colour" / "x.png")  # the result of an earlier run, written inside the album
    (root / ".x.png.1234.part").write_bytes(b"half a save")
    plan = plan_batch([root], root / "colour", recursive=True, overwrite=True)
    assert [item.source for item in plan.items] == [root / "x.png"]


def test_plan_refuses_to_replace_a_photo_with_its_result_unless_told(tmp_path):
    _grey(tmp_path / "x.png")
    refused = plan_batch([tmp_path], tmp_path)
    assert not refused.items and not refused.skipped and "the photo itself" in refused.problems[0].message
    # Redoing finished results (the app's "Redo" box) is not replacing the photos.
    redo = plan_batch([tmp_path], tmp_path, overwrite=True)
    assert not redo.items and "the photo itself" in redo.problems[0].message
    replaced = plan_batch([tmp_path], tmp_path, overwrite=True, replace_originals=True)
    assert [item.output for item in replaced.items] == [tmp_path / "x.png"]


def test_cancel_stops_handing_out_photos(tmp_path):
    items = [BatchItem(_grey(tmp_path / f"{i}.png", i), tmp_path / "out" / f"{i}.png") for i in range(4)]
    cancel = threading.Event()
    results = []
    for result in run_batch(items, BatchOptions(engine="levin"), cancel=cancel):
        results.append(result)
        cancel.set()
    assert len(results) == 1 and results[0].ok
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png"]


class _SlowEngine:
    """Takes a while per photo, as a large photo does."""

    name = "slow"
    description = "test engine"

    def colorize(self, grey, hints, draft=False, shown=None):
        time.sleep(0.5)
        return np.zeros((*grey.shape, 2), np.float32)


def make_slow_engine() -> _SlowEngine:
    return _SlowEngine()


def test_cancel_with_worker_processes_finishes_only_the_photos_in_progress(tmp_path):
    """Cancel on a folder of ten large photos let eight finish (a walk-through)."""
    items = [BatchItem(_grey(tmp_path / f"{i}.png", i), tmp_path / "out" / f"{i}.png") for i in range(10)]
    cancel = threading.Event()
    results = []
    for result in run_batch(items, BatchOptions(engine_factory=make_slow_engine), jobs=2, cancel=cancel):
        results.append(result)
        cancel.set()
    # The first photo done, and the other worker's: nothing else was started.
    assert len(results) == 2 and all(r.ok for r in results)
    assert len(list((tmp_path / "out").iterdir())) == 2


class _DyingEngine:
    """Kills its worker process on photos 13 pixels high, as the out-of-memory killer would."""

    name = "dying"
    description = "test engine"

    def colorize(self, grey, hints, draft=False, shown=None):
        if grey.shape[0] == 13:
            os._exit(1)
        return np.zeros((*grey.shape, 2), np.float32)


def make_dying_engine() -> _DyingEngine:
    return _DyingEngine()


def test_a_photo_that_kills_its_worker_is_reported_and_the_rest_finish(tmp_path):
    items = [BatchItem(_grey(tmp_path / f"{i}.png", i, size=(13 if i == 2 else 20, 20)), tmp_path / "out" / f"{i}.png")
             for i in range(5)]
    results = list(run_batch(items, BatchOptions(engine_factory=make_dying_engine), jobs=2))
    failed = [r.item.source.name for r in results if not r.ok]
    assert failed == ["2.png"] and len(results) == 5
    assert "stopped unexpectedly" in next(r.error for r in results if not r.ok)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png", "3.png", "4.png"]


def test_scheduler_without_dask_says_what_to_install(tmp_path, album, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import now fails as if not installed
    assert main(["colorize", str(album), "-o", str(tmp_path / "out"), "--engine", "levin",
                 "--scheduler", "tcp://127.0.0.1:1"]) != 0
    assert "colorme-desktop[cluster]" in capsys.readouterr().err


def test_dask_cluster_of_two_workers_gives_the_same_photos(tmp_path, album, capsys):
    distributed = pytest.importorskip("distributed")
    (album / "broken.png").write_bytes(b"not an image")
    local = tmp_path / "local"
    main(["colorize", str(album), "-o", str(local), "-r", "--engine", "levin", "--jobs", "1"])
    capsys.readouterr()
    out = tmp_path / "cluster"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  ) as cluster:
        code = main(["colorize", str(album), "-o", str(out), "-r", "--engine", "levin",
                     "--scheduler", cluster.scheduler_address])
    err = capsys.readouterr().err
    assert code != 0 and "broken.png" in err and "1 photo failed" in err
    names = sorted(p.relative_to(local) for p in local.rglob("*.png"))
    assert names == sorted(p.relative_to(out) for p in out.rglob("*.png")) and len(names) == 3
    for name in names:
        assert np.array_equal(_pixels(local / name), _pixels(out / name)), name


def test_cancel_on_a_dask_cluster_finishes_only_the_photos_in_progress(tmp_path):
    """As with worker processes: a photo handed to the cluster is colorized whether or not
    anyone waits for it, so Cancel must not have handed out more than run at once."""
    distributed = pytest.importorskip("distributed")
    items = [BatchItem(_grey(tmp_path / f"{i}.png", i), tmp_path / "out" / f"{i}.png") for i in range(10)]
    cancel = threading.Event()
    results = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  ) as cluster:
        for result in run_batch(items, BatchOptions(engine_factory=make_slow_engine),
                                scheduler=cluster.scheduler_address, cancel=cancel):
            results.append(result)
            cancel.set()
    assert len(results) == 2 and all(r.ok for r in results)
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_several_photos_and_an_image_name_is_a_mistake_not_a_folder(tmp_path, album, capsys):
    assert main(["colorize", str(album / "a.png"), str(album / "b ü.jpg"), "-o", str(tmp_path / "x.png")]) != 0
    assert "looks like a file name" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_one_photo_also_uses_the_hints_beside_it(tmp_path, album, capsys):
    out = tmp_path / "one.png"
    assert main(["colorize", str(album / "a.png"), "-o", str(out), "--engine", "levin"]) == 0
    r, g, b = _pixels(out)[10, 10]
    assert r > b + 40 and r > g + 40
    assert "a.hints.json" in capsys.readouterr().err  # the user is told where the colour came from


def test_a_folder_of_colour_photos_without_hints_comes_out_as_it_was_said_once(tmp_path, capsys):
    photos = tmp_path / "colour"
    photos.mkdir()
    for name in ("one.png", "two.png"):
        Image.fromarray(colourful_rgb(40, 60)).save(photos / name)
    out = tmp_path / "out"
    assert main(["colorize", str(photos), "-o", str(out), "--engine", "semantic", "--jobs", "1"]) == 0
    for name in ("one.png", "two.png"):
        assert np.abs(_pixels(out / name).astype(int) - colourful_rgb(40, 60)).max() <= 3
    assert capsys.readouterr().err.count("--from-grey") == 1  # one note for the folder, not one a photo


def test_a_photo_tried_again_runs_alone_so_that_a_second_crash_is_its_own():
    """Beside a photo that kills its worker, an innocent one broke its pool twice and was
    reported as failed (a fresh clone's CI); retried photos now run one at a time."""
    from colorme_desktop.batch import _may_submit

    first, retried = ("a.png", 1), ("b.png", 2)
    assert _may_submit(1, {}, jobs=2) and _may_submit(2, {}, jobs=2)
    assert _may_submit(1, {"f1": first}, jobs=2)  # first tries share the pool
    assert not _may_submit(2, {"f1": first}, jobs=2)  # a retry waits until the pool is empty ...
    assert not _may_submit(1, {"f2": retried}, jobs=2)  # ... and nothing joins it
    full = {f"f{i}": first for i in range(2)}  # one photo a worker
    assert not _may_submit(1, full, jobs=2)

"""The colorme command as the outside world uses it: exit status and one clear line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from colorme_desktop.cli import main
from colorme_desktop.core.color import luma
from tests.helpers import colourful_rgb


@pytest.fixture
def grey_png(tmp_path):
    path = tmp_path / "in put ü.png"
    Image.fromarray(colourful_rgb(40, 60)).convert("L").save(path)
    return path


def test_colorize_with_hints_writes_full_size_rgb(tmp_path, grey_png):
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps({"version": 1, "image_size": [60, 40],
                                 "hints": [{"x": 10, "y": 10, "color": "#dd2020", "radius": 3}]}))
    out = tmp_path / "out.jpg"
    assert main(["colorize", str(grey_png), "-o", str(out), "--hints", str(hints), "--engine", "levin"]) == 0
    image = Image.open(out)
    assert image.size == (60, 40) and image.mode == "RGB"
    r, g, b = np.asarray(image)[10, 10].astype(int)
    assert r > b + 20


def test_colorize_a_later_page_with_its_own_hints_and_a_keep_hint(tmp_path, capsys):
    """--page N colorizes that page of a multi-page TIFF, with NAME-pageN.hints.json beside it;
    a keep hint holds the grey there with Levin's engine (it has no automatic colour)."""
    scans = tmp_path / "scans.tif"
    pages = [Image.fromarray(colourful_rgb(40, 60, seed=s)).convert("L") for s in (1, 2)]
    pages[0].save(scans, save_all=True, append_images=pages[1:])
    (tmp_path / "scans-page2.hints.json").write_text(json.dumps(
        {"version": 2, "image_size": [60, 40], "hints": [{"x": 10, "y": 10, "color": "#dd2020", "radius": 3},
                                                         {"x": 50, "y": 30, "keep": True, "radius": 4}]}))
    out = tmp_path / "out.png"
    assert main(["colorize", str(scans), "-o", str(out), "--page", "2", "--engine", "levin"]) == 0
    rgb = np.asarray(Image.open(out))
    assert np.abs(luma(rgb).astype(int) - np.asarray(pages[1]).astype(int)).max() <= 1  # the second page's grey
    rgb = rgb.astype(int)
    assert rgb[10, 10, 0] > rgb[10, 10, 2] + 20  # its own hints were used
    assert np.ptp(rgb[30, 50]) <= 2  # grey under the keep hint
    err = capsys.readouterr().err
    assert "scans-page2.hints.json" in err and "this is page 2" in err
    assert main(["colorize", str(scans), "-o", str(out), "--page", "3", "--overwrite", "--engine", "levin"]) != 0
    assert "there is no page 3" in capsys.readouterr().err

@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_bad_input_is_one_line_and_nonzero(tmp_path, capsys, content):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    code = main(["colorize", str(bad), "-o", str(tmp_path / "o.png"), "--engine", "levin"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "bad.png" in err
    assert not (tmp_path / "o.png").exists()


def test_bad_hints_and_bad_output_are_reported(tmp_path, capsys, grey_png):
    hints = tmp_path / "h.json"
    hints.write_text('{"version": 1, "image_size": [60, 40], "hints": [{"x": NaN, "y": 1, "color": "#ffffff"}]}')
    assert main(["colorize", str(grey_png), "-o", str(tmp_path / "o.png"), "--hints", str(hints)]) != 0
    assert "NaN" in capsys.readouterr().err
    assert main(["colorize", str(grey_png), "-o", str(tmp_path / "no_folder" / "o.png"), "--engine", "levin"]) != 0
    assert "does not exist" in capsys.readouterr().err
    assert main(["colorize", str(grey_png), "-o", str(tmp_path / "o.gifx"), "--engine", "levin"]) != 0
    assert "choose one of" in capsys.readouterr().err


def test_directory_as_input(tmp_path, capsys):
    assert main(["palette", str(tmp_path)]) != 0
    assert "folder" in capsys.readouterr().err


def test_palette_prints_five_hex_colours(grey_png, capsys):
    rgb = np.zeros((50, 50, 3), np.uint8)
    for i, colour in enumerate([(250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 250, 0), (0, 250, 250)]):
        rgb[i * 10:(i + 1) * 10] = colour
    path = grey_png.with_name("c.png")
    Image.fromarray(rgb).save(path)
    assert main(["palette", str(path)]) == 0
    lines = capsys.readouterr().out.split()
    assert len(lines) == 5 and all(len(c) == 7 and c.startswith("#") for c in lines)
    assert "#fa0000" in lines


def test_no_traceback_from_the_installed_command(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_text("text")
    result = subprocess.run([sys.executable, "-m", "colorme_desktop", "colorize", str(bad), "-o",
                             str(tmp_path / "o.png")], capture_output=True, text=True, timeout=120,
                            env={**os.environ})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and result.stderr.startswith("colorme: ")


def test_install_desktop_entry(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["install-desktop-entry"]) == 0
    entry = (tmp_path / "applications" / "colorme.desktop").read_text()
    assert "Exec=" in entry and "colorme" in entry and "%f" in entry
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "colorme.svg").exists()


def _swapped_pair_files(tmp_path):
    from tests.engines.test_reference import swapped_pair

    reference, target = swapped_pair()
    Image.fromarray(reference).save(tmp_path / "reference.png")
    Image.fromarray(target).convert("L").save(tmp_path / "grey.png")
    return tmp_path / "reference.png", tmp_path / "grey.png"


def test_a_cut_out_keeps_its_transparency_one_photo_and_a_folder(tmp_path):
    grey = np.asarray(Image.fromarray(colourful_rgb(30, 40)).convert("L"))
    alpha = np.zeros((30, 40), np.uint8)
    alpha[5:25, 10:30] = 255  # the subject; around it, nothing
    folder = tmp_path / "album"
    folder.mkdir()
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(folder / "cut-out.png")
    one = tmp_path / "one.png"
    assert main(["colorize", str(folder / "cut-out.png"), "-o", str(one), "--engine", "levin"]) == 0
    assert main(["colorize", str(folder), "-o", str(tmp_path / "out"), "--engine", "levin", "--jobs", "1"]) == 0
    for path in (one, tmp_path / "out" / "cut-out.png"):
        with Image.open(path) as saved:
            assert saved.mode == "RGBA" and np.array_equal(np.asarray(saved.getchannel("A")), alpha), path


def test_a_scans_resolution_and_caption_are_kept_one_photo_and_a_folder(tmp_path):
    exif = Image.Exif()
    exif[0x010E] = "Grandma at the lake, 1932"
    folder = tmp_path / "album"
    folder.mkdir()
    Image.fromarray(colourful_rgb(30, 40)).convert("L").save(folder / "scan.jpg", dpi=(600, 600), exif=exif)
    one = tmp_path / "one.jpg"
    assert main(["colorize", str(folder / "scan.jpg"), "-o", str(one), "--engine", "levin"]) == 0
    assert main(["colorize", str(folder), "-o", str(tmp_path / "out"), "--engine", "levin", "--jobs", "1"]) == 0
    for path in (one, tmp_path / "out" / "scan.png"):
        with Image.open(path) as saved:
            assert saved.info["dpi"] == pytest.approx((600, 600), abs=0.01), path
            assert saved.getexif()[0x010E] == exif[0x010E], path


def test_a_folder_names_each_photo_that_looks_like_a_toned_print(tmp_path, capsys):
    from tests.core.test_color import _sepia

    folder = tmp_path / "album"
    folder.mkdir()
    Image.fromarray(_sepia(colourful_rgb(30, 40))).save(folder / "grandma.png")
    Image.fromarray(colourful_rgb(30, 40, seed=2)).save(folder / "colour.png")
    assert main(["colorize", str(folder), "-o", str(tmp_path / "out"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "grandma.png: its colours are all of one hue" in err and "colour.png:" not in err


def test_colorize_with_a_reference_takes_its_colours(tmp_path):
    reference, grey = _swapped_pair_files(tmp_path)
    out = tmp_path / "out.png"
    assert main(["colorize", str(grey), "-o", str(out), "--engine", "levin", "--reference", str(reference)]) == 0
    rgb = np.asarray(Image.open(out)).astype(int)
    # The grey photo has flat on the left and texture on the right; the reference the reverse.
    assert rgb[:, 10:70, 2].mean() > rgb[:, 10:70, 0].mean() + 60  # flat: blue
    assert rgb[:, 100:160, 0].mean() > rgb[:, 100:160, 2].mean() + 60  # texture: red


def test_a_folder_with_a_reference(tmp_path):
    reference, grey = _swapped_pair_files(tmp_path)
    photos = tmp_path / "album"
    photos.mkdir()
    grey.rename(photos / "grey.png")
    out = tmp_path / "out"
    assert main(["colorize", str(photos), "-o", str(out), "--engine", "levin", "--reference", str(reference),
                 "-j", "1", "-q"]) == 0
    rgb = np.asarray(Image.open(out / "grey.png")).astype(int)
    assert rgb[:, 10:70, 2].mean() > rgb[:, 10:70, 0].mean() + 60


def test_a_grey_reference_is_refused_in_one_line(tmp_path, grey_png, capsys):
    code = main(["colorize", str(grey_png), "-o", str(tmp_path / "o.png"), "--engine", "levin",
                 "--reference", str(grey_png)])
    assert code != 0
    err = capsys.readouterr().err
    assert "grey" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


def test_a_colour_photo_keeps_its_own_colours_unless_told_to_start_from_grey(tmp_path, capsys):
    rgb = colourful_rgb(90, 120)
    photo = tmp_path / "colour.png"
    Image.fromarray(rgb).save(photo)
    kept, from_grey = tmp_path / "kept.png", tmp_path / "from-grey.png"
    assert main(["colorize", str(photo), "-o", str(kept), "--engine", "semantic"]) == 0
    assert "--from-grey" in capsys.readouterr().err  # a copy of the photo is not a silent surprise
    assert main(["colorize", str(photo), "-o", str(from_grey), "--engine", "semantic", "--from-grey"]) == 0
    assert "--from-grey" not in capsys.readouterr().err
    difference = lambda path: np.abs(np.asarray(Image.open(path)).astype(int) - rgb).mean()  # noqa: E731
    assert np.array_equal(np.asarray(Image.open(kept)), rgb)  # no hints: the photo's own colours, to the bit
    assert difference(from_grey) > 10.0  # the automatic colour of its grey is another photo

import os

import numpy as np
import pytest
from PIL import Image

from colorme_desktop.core import imageio
from colorme_desktop.core.imageio import (
    ImageLoadError,
    ImageSaveError,
    load_image,
    page_count,
    read_image_size,
    save_image,
)
from tests.helpers import blocking_pipe, colourful_rgb

W, H = 40, 24


def _rgb():
    return colourful_rgb(H, W)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGB", "RGBA", "CMYK", "1"])
def test_every_mode_loads_at_full_size(tmp_path, mode):
    image = Image.fromarray(_rgb()).convert(mode)
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    image.save(path)
    loaded = load_image(path)
    assert loaded.size == (W, H)
    assert loaded.grey.dtype == np.uint8
    assert loaded.is_colour == (mode in ("P", "RGB", "RGBA", "CMYK"))


def test_sixteen_bit_grey_png(tmp_path):
    data = (np.linspace(0, 65535, W * H).reshape(H, W)).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(data).save(path)
    loaded = load_image(path)
    assert loaded.size == (W, H) and not loaded.is_colour
    assert loaded.grey[0, 0] == 0 and loaded.grey[-1, -1] == 255


def test_sixteen_bit_rgb_png(tmp_path):
    import cv2

    rgb16 = (_rgb().astype(np.uint16) * 257)
    path = tmp_path / "c16.png"
    cv2.imwrite(str(path), rgb16[..., ::-1])
    loaded = load_image(path)
    assert loaded.size == (W, H) and loaded.is_colour
    assert np.array_equal(loaded.rgb, _rgb())  # OpenCV's full read, rounded, not Pillow's cut
    assert any("16 bits" in note for note in loaded.notes)


def test_rgb_with_grey_content_counts_as_grey(tmp_path):
    grey = np.random.default_rng(0).integers(0, 256, (H, W), dtype=np.uint8)
    path = tmp_path / "scan.jpg"
    Image.fromarray(grey).convert("RGB").save(path, quality=95)
    assert not load_image(path).is_colour


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    rgb = _rgb()
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "o.jpg"
    image.save(path, exif=exif, quality=95)
    loaded = load_image(path)
    expected = (H, W) if orientation in (5, 6, 7, 8) else (W, H)
    assert loaded.size == expected


def test_broken_files_are_refused_with_a_message(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("hello, not an image")
    good = tmp_path / "good.jpg"
    Image.fromarray(_rgb()).save(good)
    truncated = tmp_path / "trunc.jpg"
    truncated.write_bytes(good.read_bytes()[:200])
    for path in (empty, text, truncated, tmp_path, tmp_path / "missing.png"):
        with pytest.raises(ImageLoadError) as info:
            load_image(path)
        assert path.name in str(info.value) or "folder" in str(info.value)


def test_an_empty_file_and_a_cut_short_photo_are_named_as_such(tmp_path):
    """Not "unknown format" for an empty file, nor Pillow's "(7 bytes not processed)" for a
    photo that lost half its bytes (a walk-through found both misleading)."""
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match=r"empty \(0 bytes\)"):
        load_image(empty)
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(good, quality=95)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ImageLoadError, match="cut short") as info:
        load_image(cut)
    assert "bytes not processed" not in str(info.value)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(imageio, "MAX_PIXELS", 100)
    path = tmp_path / "big.png"
    Image.fromarray(_rgb()).save(path)
    with pytest.raises(ImageLoadError, match="megapixels"):
        load_image(path)


def test_animated_gif_uses_first_frame_and_says_so(tmp_path):
    frames = [Image.fromarray(colourful_rgb(H, W, seed=s)).convert("P") for s in range(3)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    loaded = load_image(path)
    assert loaded.size == (W, H) and (loaded.page, loaded.pages) == (0, 1)  # frames are not pages
    assert any("animation of 3 frames; ColorMe uses the first one" in note for note in loaded.notes)
    assert loaded.page_note is None and page_count(path) == 1


def test_save_round_trip_each_format(tmp_path):
    rgb = _rgb()
    for suffix in (".png", ".jpg", ".tif", ".webp"):
        path = tmp_path / f"out{suffix}"
        save_image(path, rgb)
        back = np.asarray(Image.open(path).convert("RGB"))
        assert back.shape == rgb.shape
        error = np.abs(back.astype(int) - rgb.astype(int)).mean()
        assert error == 0 if suffix in (".png", ".tif") else error < 12


def _scan_with_metadata(path, orientation: int = 1):
    """A scan as an archive keeps it: 600 dpi, a caption, the date taken, maybe turned."""
    exif = Image.Exif()
    exif[0x010E] = "Grandma at the lake, 1932"  # ImageDescription
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "1932:06:01 12:00:00"  # DateTimeOriginal
    Image.fromarray(_rgb()).convert("L").save(path, dpi=(600, 600), exif=exif)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_a_scans_resolution_and_exif_are_kept_when_saved(tmp_path, suffix):
    """An archivist's 600 dpi scan came back at 72 dpi without its caption and date."""
    loaded = load_image(_scan_with_metadata(tmp_path / "scan.jpg", orientation=6))
    assert loaded.size == (H, W)  # turned upright
    out = tmp_path / f"colour{suffix}"
    save_image(out, np.dstack([loaded.grey] * 3), metadata=loaded.metadata)
    with Image.open(out) as saved:
        exif = saved.getexif()
        assert saved.size == (H, W) and exif.get(0x010E) == "Grandma at the lake, 1932"
        assert exif.get(0x0112) is None  # the pixels are upright: no viewer may turn them again
        if suffix != ".webp":  # WebP has no resolution field
            assert saved.info["dpi"] == pytest.approx((600, 600), abs=0.01)
        if suffix != ".tif":  # libtiff writes only the main EXIF directory
            assert exif.get_ifd(0x8769).get(0x9003) == "1932:06:01 12:00:00"
    assert load_image(out).size == (H, W)


def test_a_photo_without_metadata_saves_without_any(tmp_path):
    path = tmp_path / "plain.png"
    Image.fromarray(_rgb()).save(path)
    loaded = load_image(path)
    assert loaded.metadata.dpi is None and loaded.metadata.exif is None
    save_image(tmp_path / "out.jpg", loaded.rgb, metadata=loaded.metadata)
    with Image.open(tmp_path / "out.jpg") as saved:
        assert not saved.getexif()


def test_a_sixteen_bit_photo_says_it_is_saved_in_eight_bits(tmp_path):
    path = tmp_path / "g16.png"
    Image.fromarray((np.linspace(0, 65535, W * H).reshape(H, W)).astype(np.uint16)).save(path)
    assert any("16 bits" in note and "8 bits" in note for note in load_image(path).notes)
    Image.fromarray(_rgb()).save(tmp_path / "c8.png")
    assert load_image(tmp_path / "c8.png").notes == []


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(ImageSaveError, match="choose one of"):
        save_image(tmp_path / "out.xyz", _rgb())


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    target.write_bytes(b"precious old content")

    def exploding_save(self, fp, *args, **kwargs):
        fp.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", exploding_save)
    with pytest.raises(ImageSaveError, match="No space left"):
        save_image(target, _rgb())
    assert target.read_bytes() == b"precious old content"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]  # no temp file left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_is_reported(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(ImageSaveError):
        save_image(folder / "x.png", _rgb())


@pytest.mark.parametrize("size", [(1, 1), (1, 37), (53, 1)])
def test_tiny_and_thin_images_load(tmp_path, size):
    path = tmp_path / "thin.png"
    Image.fromarray(colourful_rgb(size[1], size[0])).save(path)
    assert load_image(path).size == size


def test_a_multipage_tiff_opens_at_any_page_and_says_which(tmp_path):
    """An archive's TIFF of several scans: each page opens with its own size and colour."""
    pages = [Image.fromarray(colourful_rgb(H, W, seed=0)),
             Image.fromarray(colourful_rgb(H + 6, W - 4, seed=1)).convert("L")]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    first = load_image(path)
    assert first.size == (W, H) and (first.page, first.pages) == (0, 2)
    assert first.page_note == "pages.tif holds 2 pages; this is page 1." and page_count(path) == 2
    assert np.abs(first.rgb.astype(int) - np.asarray(pages[0]).astype(int)).max() == 0
    second = load_image(path, page=1)
    assert second.size == (W - 4, H + 6) and second.page == 1 and second.rgb is None
    assert np.array_equal(second.grey, np.asarray(pages[1]))
    assert read_image_size(path, page=1) == (W - 4, H + 6)
    with pytest.raises(ImageLoadError, match="has 2 pages; there is no page 3"):
        load_image(path, page=2)


def test_webp_cmyk_jpeg_and_transparent_palette(tmp_path):
    rgb = _rgb()
    Image.fromarray(rgb).save(tmp_path / "a.webp", quality=95)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    palette = Image.fromarray(rgb).convert("P")
    palette.info["transparency"] = 0
    palette.save(tmp_path / "p.png", transparency=0)
    for name in ("a.webp", "c.jpg", "p.png"):
        loaded = load_image(tmp_path / name)
        assert loaded.size == (W, H) and loaded.is_colour, name


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_transparent_parts_come_out_white_in_grey_and_colour_alike(tmp_path, mode):
    """What full transparency hides is not shown (a walk-through found a grey one's shown)."""
    grey = np.full((H, W), 40, np.uint8)
    alpha = np.zeros((H, W), np.uint8)
    alpha[:, : W // 2] = 255  # the left half opaque, the right half fully transparent
    channels = [grey, alpha] if mode == "LA" else [grey, grey, grey, alpha]
    Image.fromarray(np.stack(channels, axis=-1), mode).save(tmp_path / "cut-out.png")
    loaded = load_image(tmp_path / "cut-out.png")
    assert (loaded.grey[:, : W // 2] == 40).all() and (loaded.grey[:, W // 2:] == 255).all()


def test_transparency_is_kept_by_formats_that_hold_it(tmp_path):
    rgb = _rgb()
    alpha = np.full((H, W), 255, np.uint8)
    alpha[:, : W // 3] = 0
    alpha[:, W // 3: W // 2] = 128
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "cut-out.png")
    loaded = load_image(tmp_path / "cut-out.png")
    assert np.array_equal(loaded.alpha, alpha)
    for name in ("out.png", "out.webp", "out.tif"):
        save_image(tmp_path / name, loaded.rgb, alpha=loaded.alpha)
        with Image.open(tmp_path / name) as saved:
            assert saved.mode == "RGBA", name
            assert np.abs(np.asarray(saved.getchannel("A")).astype(int) - alpha).max() <= 1, name
    save_image(tmp_path / "out.jpg", loaded.rgb, alpha=loaded.alpha)  # JPEG: the colours on white
    with Image.open(tmp_path / "out.jpg") as saved:
        assert saved.mode == "RGB"
    Image.fromarray(np.dstack([rgb, np.full((H, W), 255, np.uint8)]), "RGBA").save(tmp_path / "opaque.png")
    assert load_image(tmp_path / "opaque.png").alpha is None  # an alpha channel that hides nothing


def test_sixteen_bit_rgb_tiff(tmp_path):
    import cv2

    # Half a level above each 8-bit value: rounded it is that value, Pillow's cut adds one.
    rgb16 = (_rgb().astype(np.uint32) * 257 + 128).clip(0, 65535).astype(np.uint16)
    path = tmp_path / "c16.tif"
    cv2.imwrite(str(path), rgb16[..., ::-1])
    loaded = load_image(path)
    assert loaded.size == (W, H) and loaded.is_colour
    assert np.array_equal(loaded.rgb, _rgb())  # OpenCV's full read, rounded, not Pillow's cut
    assert any("16 bits" in note for note in loaded.notes)


def test_a_later_page_of_sixteen_bits_is_read_and_said_to_be_sixteen_bits(tmp_path):
    """OpenCV decodes a file's first page only: a later page comes from Pillow, within a level."""
    import cv2

    rgb16 = (_rgb().astype(np.uint32) * 257 + 100).clip(0, 65535).astype(np.uint16)  # between 8-bit levels
    path = tmp_path / "pages16.tif"
    assert cv2.imwritemulti(str(path), [np.full((10, 12), 99, np.uint8), np.ascontiguousarray(rgb16[..., ::-1])])
    loaded = load_image(path, page=1)
    assert (loaded.page, loaded.pages, loaded.size) == (1, 2, (W, H)) and loaded.is_colour
    assert np.abs(loaded.rgb.astype(int) - _rgb().astype(int)).max() <= 1
    assert any("16 bits" in note for note in loaded.notes)
    assert load_image(path).rgb is None and not any("16 bits" in n for n in load_image(path).notes)


def test_unreadable_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    Image.fromarray(_rgb()).save(path)

    def no_permission(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(imageio.Image, "open", no_permission)
    with pytest.raises(ImageLoadError, match="No permission"):
        load_image(path)


def test_unwritable_destination_is_reported_even_as_root(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(imageio.tempfile, "mkstemp", refuse)
    with pytest.raises(ImageSaveError, match="Permission denied"):
        save_image(target, _rgb())
    assert target.read_bytes() == b"old"


@pytest.mark.parametrize("orientation", [1, 6])
def test_size_from_the_header_matches_the_loaded_photo(tmp_path, orientation):
    image = Image.fromarray(_rgb())
    exif = image.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "o.jpg"
    image.save(path, exif=exif)
    assert imageio.read_image_size(path) == load_image(path).size


def test_dangling_link_names_where_it_points(tmp_path):
    link = tmp_path / "photo.png"
    link.symlink_to(tmp_path / "moved-away.png")
    with pytest.raises(ImageLoadError, match="link to .*moved-away.png, which does not exist"):
        load_image(link)


def test_hints_and_photo_readers_refuse_a_pipe_without_opening_it(tmp_path):
    from colorme_desktop.core.hints import HintsFileError, load_hints_file

    with blocking_pipe(tmp_path / "pipe.json") as pipe:
        with pytest.raises(HintsFileError, match="named pipe"):
            load_hints_file(pipe)
        with pytest.raises(ImageLoadError, match="named pipe"):
            imageio.read_image_size(pipe)


def test_half_written_saves_of_a_killed_process_are_removed_and_no_others(tmp_path):
    """A batch worker killed mid-save leaves its hidden temporary file; a retry removes it."""
    from colorme_desktop.core.imageio import remove_partial_saves

    target = tmp_path / "a [1].png"  # glob characters in the name
    for name in (".a [1].png.x8s_w.part", ".a [1].png.k2.part", ".b.png.x8s_w.part", "a [1].png"):
        (tmp_path / name).write_bytes(b"x")
    remove_partial_saves(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".b.png.x8s_w.part", "a [1].png"]

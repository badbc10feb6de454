"""The photo sources: split by package, nothing reserved, drawings and cut-outs handled."""

import numpy as np

from colorme_desktop.training.gather import (
    LATER_SOURCES,
    RESERVED_FOR_EVALUATION,
    SOURCES,
    composite,
    flat_share,
    tone_map,
)


def test_every_package_lies_in_one_split_and_none_is_reserved():
    splits: dict[str, set] = {}
    for source in SOURCES + LATER_SOURCES:
        splits.setdefault(source.package, set()).add(source.split)
    assert all(len(s) == 1 for s in splits.values())
    assert not set(splits) & RESERVED_FOR_EVALUATION
    for split in ("val", "test"):
        assert sum(s == {split} for s in splits.values()) >= 3


def test_cut_outs_and_later_sources_train_only():
    # Validation and test stay the photos every setting and table was measured on.
    assert all(source.split == "train" for source in SOURCES if source.cutouts)
    assert all(source.split == "train" for source in LATER_SOURCES)


def test_tone_map_exposes_a_dim_hdr_scene_and_keeps_its_colours():
    rng = np.random.default_rng(2)
    scene = rng.uniform(0.5, 1.5, (40, 60, 1)) * np.array([0.02, 0.01, 0.005])  # a dim orange scene
    scene[:5, :5] = 500.0  # a light source, far beyond white
    photo = tone_map(scene.astype(np.float32))
    body = photo[10:, 10:].reshape(-1, 3).astype(int)
    assert photo.dtype == np.uint8 and 60 < body.mean() < 200  # exposed, not left black
    assert (body[:, 0] > body[:, 1]).all() and (body[:, 1] > body[:, 2]).all()  # still orange
    assert (photo[:5, :5] == 255).all()


def test_flat_share_tells_a_drawing_from_a_photo():
    rng = np.random.default_rng(0)
    drawing = np.zeros((60, 80, 3), dtype=np.uint8)
    drawing[:, :40] = (200, 40, 40)
    drawing[20:40, 50:70] = (30, 30, 220)
    photo = np.clip(rng.normal(120, 20, (60, 80, 3)), 0, 255).astype(np.uint8)
    assert flat_share(drawing) > 0.9 and flat_share(photo) < 0.2


def test_composite_keeps_the_cut_out_over_the_background():
    rng = np.random.default_rng(1)
    background = np.full((100, 120, 3), 50, dtype=np.uint8)
    cutout = np.zeros((40, 40, 4), dtype=np.uint8)
    cutout[10:30, 10:30] = (250, 10, 10, 255)  # an opaque red square in a transparent frame
    out = composite(cutout, background, rng)
    red = (out[..., 0] > 200) & (out[..., 1] < 60)
    assert red.mean() > 0.02 and (out[~red] == 50).all(axis=-1).mean() > 0.95  # edges are blended

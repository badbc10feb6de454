"""Colours from a reference photo: matched by what things are, never by where they are."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.datasets import load_sample_image

from colorme_desktop.core.color import chroma_of, chroma_of_color, luma, resize_to_max_side
from colorme_desktop.core.hints import keep_hint, point_hint
from colorme_desktop.engines.levin import LevinEngine
from colorme_desktop.engines.reference import (
    REFERENCE_SETTINGS,
    Guidance,
    ReferenceGuided,
    Tokens,
    chroma_colours,
    correction,
    guidance_hints,
    match_tokens,
    outside_user_hints,
    user_reach,
)

RED, DARK_RED, BLUE, GREEN = (230, 40, 40), (120, 10, 10), (40, 60, 200), (30, 200, 60)


def swapped_pair(height: int = 112, width: int = 168) -> tuple[np.ndarray, np.ndarray]:
    """Reference: textured red left, flat blue right.  Target: the same two, sides swapped.

    Both halves have the same mean grey, so only texture tells them apart, and a method
    that copied colour by position would put blue on the texture.
    """
    texture = np.random.default_rng(0).random((height, width // 2)) > 0.5
    red = np.where(texture[..., None], RED, DARK_RED).astype(np.uint8)
    reference = np.empty((height, width, 3), dtype=np.uint8)
    reference[:, :width // 2], reference[:, width // 2:] = red, BLUE
    target = np.empty_like(reference)
    target[:, :width // 2], target[:, width // 2:] = BLUE, red[:, ::-1]
    return reference, target


def tokens(features: np.ndarray, grey: float = 128.0) -> Tokens:
    return Tokens(features=features, grey=np.full(features.shape[1:], grey, dtype=np.float32))


def plain_settings(**changes):
    """Settings where only the similarity counts, so a test can state what it expects."""
    values = dict(temperature=0.05, similarity_low=0.25, similarity_high=0.6, agreement_scale=1e6,
                  luminance_scale=1e6, region_softness=0.0, scene_low=-1.0, scene_high=-0.5, strength=1.0)
    return dataclasses.replace(REFERENCE_SETTINGS, **{**values, **changes})


class LocalEngine:
    """An engine with an automatic colour (a faint warm tint) whose hints colour only a disk
    around themselves: enough to see where the reference and the user each take over."""

    name = "local"
    description = "test engine"
    AUTOMATIC = (6.0, 4.0)

    def colorize(self, grey, hints, draft=False, shown=None):
        chroma = np.empty((*grey.shape, 2), dtype=np.float32)
        chroma[:] = self.AUTOMATIC
        rows, cols = np.mgrid[: grey.shape[0], : grey.shape[1]]
        for hint in hints:
            if hint.keep:
                continue  # its automatic colour stays, as a keep hint asks
            x, y = hint.points[0]
            chroma[(rows - y) ** 2 + (cols - x) ** 2 <= 15 ** 2] = chroma_of_color(hint.color)
        return chroma


@pytest.fixture(scope="module")
def backbone():
    from colorme_desktop.engines.base import EngineError
    from colorme_desktop.engines.semantic_engine import load_backbone

    try:
        return load_backbone()
    except EngineError as exc:
        pytest.skip(f"no DINOv2 weights in this installation: {exc}")


def test_tokens_are_matched_by_content_not_position():
    # Two kinds of token, "a" and "b"; the reference has a on the left, the target on the right.
    a, b = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    reference = tokens(np.stack([a, a, b, b], axis=1)[:, None, :])  # (C, 1, 4)
    target = tokens(np.stack([b, b, a, a], axis=1)[:, None, :])
    chroma = np.array([[[50, 0], [50, 0], [-50, 0], [-50, 0]]], dtype=np.float32)
    guidance = match_tokens(target, reference, chroma, plain_settings())
    np.testing.assert_allclose(guidance.chroma[0, :, 0], [-50, -50, 50, 50], atol=1e-3)
    assert (guidance.confidence > 0.9).all()


def test_unlike_tokens_give_no_confidence():
    reference = tokens(np.eye(4, dtype=np.float32)[:2].T[:, None, :])  # two tokens along channels 0, 1
    target = tokens(np.eye(4, dtype=np.float32)[2:].T[:, None, :])  # orthogonal to both
    guidance = match_tokens(target, reference, np.zeros((1, 2, 2), np.float32))
    assert guidance.confidence.max() == 0.0
    assert guidance_hints(guidance, (14, 28)) == ()


def test_hint_colours_keep_the_chroma():
    chroma = np.array([[40.0, -30.0], [-60.0, 70.0]], dtype=np.float32)
    colours = chroma_colours(chroma)
    np.testing.assert_allclose([chroma_of_color(c) for c in colours], chroma, atol=1.0)


def test_reference_points_near_a_user_hint_are_dropped():
    reference = (point_hint(10, 10, RED), point_hint(80, 50, RED))
    kept = outside_user_hints(reference, (point_hint(12, 12, GREEN, radius=3),), (64, 96), margin=8)
    assert kept == (reference[1],)


def test_reference_puts_red_on_the_texture_and_blue_on_the_flat_part(backbone):
    reference, target = swapped_pair()
    engine = ReferenceGuided(LevinEngine(), reference, backbone=backbone)
    chroma = engine.colorize(luma(target), ())
    truth = chroma_of(target)
    flat, textured = np.s_[:, 10:70], np.s_[:, 100:160]
    # Cr (red minus luma) is +75 on red and -21 on blue: the sign alone says which colour.
    assert chroma[flat][..., 1].mean() < -15
    assert chroma[textured][..., 1].mean() > 60
    assert np.abs(chroma[flat] - truth[flat]).mean() < 10


def test_the_users_hint_overrides_the_reference(backbone):
    reference, target = swapped_pair()
    engine = ReferenceGuided(LevinEngine(), reference, backbone=backbone)
    grey = luma(target)
    chroma = engine.colorize(grey, (point_hint(40, 56, GREEN, radius=6),))
    green = np.array(chroma_of_color(GREEN))
    assert np.abs(chroma[56, 40] - green).max() < 2  # under the hint: the user's colour
    assert np.abs(chroma[50:62, 34:46] - green).mean() < np.abs(chroma[50:62, 34:46] - chroma_of_color(BLUE)).mean()
    assert chroma[:, 100:160, 1].mean() > 60  # the texture far away is still red


def test_confidence_falls_when_the_matches_disagree_or_differ_in_brightness():
    a = np.eye(4, dtype=np.float32)[0]
    reference = tokens(np.stack([a, a], axis=1)[:, None, :])  # two alike tokens ...
    target = tokens(a[:, None, None])
    clashing = np.array([[[60, 0], [-60, 0]]], dtype=np.float32)  # ... of opposite colours
    agreeing = np.array([[[60, 0], [60, 0]]], dtype=np.float32)
    settings = plain_settings(agreement_scale=20.0, luminance_scale=20.0)
    assert match_tokens(target, reference, agreeing, settings).confidence[0, 0] > 0.9
    assert match_tokens(target, reference, clashing, settings).confidence[0, 0] < 0.2
    darker = Tokens(features=target.features, grey=np.full((1, 1), 40.0, np.float32))
    assert match_tokens(darker, reference, agreeing, settings).confidence[0, 0] < 0.2


def test_without_confidence_the_automatic_colour_is_kept():
    grey = np.tile(np.linspace(0, 255, 56, dtype=np.uint8), (28, 1))
    automatic = np.random.default_rng(1).normal(0, 20, (28, 56, 2)).astype(np.float32)
    guidance = Guidance(chroma=np.full((2, 4, 2), 80.0, np.float32), confidence=np.zeros((2, 4), np.float32))
    assert np.abs(correction(guidance, automatic, grey)).max() < 1e-3
    sure = Guidance(chroma=guidance.chroma, confidence=np.ones((2, 4), np.float32))
    moved = automatic + correction(sure, automatic, grey)
    assert abs(moved.mean() - 80.0) < 3  # all the way to the reference's colour, on average
    assert np.std(moved - 80.0) > 5  # the automatic colour's own detail survives


def test_reference_moves_an_automatic_colour_toward_what_matches(backbone):
    reference, target = swapped_pair()
    engine = ReferenceGuided(LocalEngine(), reference, backbone=backbone)
    chroma = engine.colorize(luma(target), ())
    # Cr is +75 on red and -21 on blue, the faint automatic tint +4: the reference shows through.
    assert chroma[:, 10:70, 1].mean() < -5
    assert chroma[:, 100:160, 1].mean() > 30


def test_an_unrelated_reference_leaves_the_automatic_colour_almost_alone(backbone):
    # A Chinese palace gives nothing to a close-up of a flower; the other half of the flower
    # photo does.  (scikit-learn's two sample photos: both ship inside the package.)
    flower, china = (resize_to_max_side(load_sample_image(name), 224) for name in ("flower.jpg", "china.jpg"))
    grey = luma(flower[:, 170:])
    unrelated = ReferenceGuided(LocalEngine(), china, backbone=backbone).colorize(grey, ())
    related = ReferenceGuided(LocalEngine(), flower[:, :150], backbone=backbone).colorize(grey, ())
    assert np.abs(unrelated - LocalEngine.AUTOMATIC).mean() < 2
    assert np.abs(related - LocalEngine.AUTOMATIC).mean() > 10
    truth = chroma_of(flower[:, 170:])
    assert np.abs(related - truth).mean() < np.abs(unrelated - truth).mean()


def test_a_user_hint_wins_over_the_reference_near_it_and_only_there(backbone):
    reference, target = swapped_pair()
    engine = ReferenceGuided(LocalEngine(), reference, backbone=backbone)
    grey = luma(target)
    plain = engine.colorize(grey, ())
    chroma = engine.colorize(grey, (point_hint(40, 56, GREEN, radius=6),))
    green = np.array(chroma_of_color(GREEN))
    assert np.abs(chroma[50:62, 34:46] - green).max() < 1  # the user's colour, untouched by the reference
    np.testing.assert_allclose(chroma[:, 100:160], plain[:, 100:160], atol=0.5)  # far away: still the reference


def test_a_keep_hint_keeps_the_reference_colour_not_just_the_automatic_one(backbone):
    """Under a keep hint the wrapped engine gives its automatic colour; the reference's
    share stays, so the photo there is as it was without hints."""
    reference, target = swapped_pair()
    engine = ReferenceGuided(LocalEngine(), reference, backbone=backbone)
    grey = luma(target)
    plain = engine.colorize(grey, ())
    kept = engine.colorize(grey, (point_hint(130, 56, GREEN, radius=6), keep_hint([(130.0, 20.0)], radius=6)))
    assert np.abs(kept[14:26, 124:136] - plain[14:26, 124:136]).max() < 0.5
    assert np.abs(kept[14:26, 124:136] - LocalEngine.AUTOMATIC).mean() > 10  # the reference's colour, not the tint

def test_the_wrapped_engines_idle_preparation_still_runs(backbone):
    # The worker prepares strokes through whatever engine it holds: with a reference photo
    # in use that is the wrapper, and the first stroke must not pay for the graph again.
    prepared = []

    class Preparing(LocalEngine):
        def prepare_strokes(self, grey):
            prepared.append(grey.shape)

    reference, target = swapped_pair()
    ReferenceGuided(Preparing(), reference, backbone=backbone).prepare_strokes(luma(target))
    ReferenceGuided(LocalEngine(), reference, backbone=backbone).prepare_strokes(luma(target))  # none: no error
    assert prepared == [luma(target).shape]


def test_the_users_reach_fades_away_from_a_hint_rather_than_ending_in_a_hard_edge():
    """A hint that changes nothing still claims its surroundings, fading out over the margin:
    a disc cut a hard-edged patch of uncorrected colour into the sky around a stroke."""
    automatic = np.zeros((100, 100, 2), np.float32)
    reach = user_reach([point_hint(50, 50, (128, 128, 128), radius=1)], automatic, automatic, margin=20)
    assert reach[50, 50] == pytest.approx(1.0, abs=0.05)
    assert 0.3 < reach[50, 60] < 0.7  # half-way out: half the claim
    assert reach[50, 75] == 0.0  # beyond the margin: none
    row = reach[50, 50:80]
    assert np.abs(np.diff(row)).max() < 0.15  # no step anywhere along the way

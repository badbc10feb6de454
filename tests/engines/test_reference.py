"""Colours from a reference photo: matched by what things are, never by where they are."""

from __future__ import annotations

import numpy as np
import pytest

from colorme_desktop.core.color import chroma_of, chroma_of_color, luma
from colorme_desktop.core.hints import point_hint
from colorme_desktop.engines.levin import LevinEngine
from colorme_desktop.engines.reference import (
    ReferenceGuided,
    chroma_colours,
    guidance_hints,
    match_tokens,
    outside_user_hints,
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
    reference = np.stack([a, a, b, b], axis=1)[:, None, :]  # (C, 1, 4)
    target = np.stack([b, b, a, a], axis=1)[:, None, :]
    chroma = np.array([[[50, 0], [50, 0], [-50, 0], [-50, 0]]], dtype=np.float32)
    guidance = match_tokens(target, reference, chroma, top_k=2)
    np.testing.assert_allclose(guidance.chroma[0, :, 0], [-50, -50, 50, 50], atol=1e-3)
    assert (guidance.confidence > 0.9).all()


def test_unlike_tokens_give_no_confidence():
    reference = np.eye(4, dtype=np.float32)[:2].T[:, None, :]  # two tokens along channels 0, 1
    target = np.eye(4, dtype=np.float32)[2:].T[:, None, :]  # orthogonal to both
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

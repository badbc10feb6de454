"""The semantic engine and its propagation: hints exact, local, and cheap per stroke."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from colorme_desktop.core.color import chroma_of_color, fit_size, upsample_chroma
from colorme_desktop.core.hints import Hint, keep_hint, point_hint
from colorme_desktop.engines import semantic_engine
from colorme_desktop.engines.base import EngineError
from colorme_desktop.engines.dinov2 import Dinov2Small
from colorme_desktop.engines.numpy_nets import DEPTH, Dinov2Runtime
from colorme_desktop.engines.propagation import (
    affinity_laplacian,
    feature_map,
    nonlocal_target,
    spread,
    token_components,
)
from colorme_desktop.engines.semantic import (
    HeadEnsemble,
    SemanticColorHead,
    backbone_size,
    ensemble_state,
    head_from_state,
    head_runtime,
    numpy_state,
)
from colorme_desktop.engines.semantic_engine import SemanticEngine, SemanticSettings
from tests.helpers import count_stroke_factorisations

SETTINGS = SemanticSettings(temperature=0.6, blend=0.5, chroma_scale=1.0, working_side=96, draft_side=48,
                            feature_softness=0.1, grey_cap=5e-4, decay=1e-4, decay_power=1.0, nonlocal_softness=0.0,
                            hints_share=1e9, belief_softness=0.0, belief_strength=0.0)


class CountingBackbone(Dinov2Runtime):
    """The app's backbone runtime with random weights, counting how often it runs."""

    def __init__(self) -> None:
        module = Dinov2Small()
        torch.manual_seed(0)
        for p in module.parameters():
            torch.nn.init.normal_(p, std=0.02)
        self.calls = 0
        super().__init__(numpy_state(module))
        self.calls = 0  # the check of the weights' shapes at construction is no photo

    def tokens(self, grey: np.ndarray, layer: int = DEPTH) -> np.ndarray:
        self.calls += 1
        return super().tokens(grey, layer)


@pytest.fixture
def engine() -> SemanticEngine:
    torch.manual_seed(0)
    return SemanticEngine(CountingBackbone(), head_runtime(SemanticColorHead().eval()), SETTINGS)


def two_rooms(h: int = 80, w: int = 120) -> np.ndarray:
    """Two flat regions of different grey with a sharp wall between them."""
    grey = np.full((h, w), 60, dtype=np.uint8)
    grey[:, w // 2:] = 190
    return grey


def test_backbone_runs_once_per_photo_not_per_stroke(engine):
    grey = two_rooms()
    for x in (10, 20, 30):
        engine.colorize(grey, [point_hint(x, 40, (200, 30, 30))])
    engine.colorize(grey, [], draft=True)
    assert engine.backbone.calls == 1
    engine.colorize(two_rooms(64, 64), [])
    assert engine.backbone.calls == 2


def test_likely_colours_come_with_the_photo_at_no_extra_pass(engine):
    grey = two_rooms()
    engine.colorize(grey, [])
    likely = engine.likely_colors(grey)
    assert engine.backbone.calls == 1  # found with the automatic colour, not by another pass
    # This random head is sure of nothing, so maybe none (the shipped head: test_shipped_weights).
    assert len(likely) <= 5
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in likely)


def test_hint_is_followed_at_its_place_and_stays_in_its_region(engine):
    grey = two_rooms()
    before = engine.colorize(grey, [])
    red = (200, 30, 30)
    after = engine.colorize(grey, [point_hint(20.5, 40.5, red, radius=3)])
    wanted = np.array(chroma_of_color(red))
    change = np.linalg.norm(after - before, axis=-1)
    asked = np.linalg.norm(wanted - before[40, 20])
    assert np.linalg.norm(after[40, 20] - wanted) < 0.2 * asked  # the hint is (nearly) exact
    assert change[:, 70:].mean() < 0.05 * asked  # beyond the wall: no spill
    assert change[:, :50].mean() > 0.5 * asked  # its own region follows


def test_draft_and_final_agree(engine):
    grey = two_rooms()
    hints = [point_hint(20.5, 40.5, (200, 30, 30), radius=3), point_hint(90.5, 20.5, (30, 30, 200), radius=3)]
    final, draft = engine.colorize(grey, hints), engine.colorize(grey, hints, draft=True)
    assert np.abs(final - draft)[5:-5, 5:-5].mean() < 6.0


def test_hints_own_colours_get_their_say_where_they_reach(engine):
    """With hints_share finite the result is (1 - own * reach) * prior + S(hint colours -
    (1 - own) * prior), reach = S(1 at the hints), as separate solves would give it; the
    engine solves it as one of three channels."""
    from colorme_desktop.core.hints import paint_exact, rasterize
    engine.settings = replace(SETTINGS, working_side=120, hints_share=2.0, decay=1e-3)
    grey = two_rooms()
    hints = [point_hint(20.5, 40.5, (200, 30, 30), radius=3), point_hint(90.5, 20.5, (30, 30, 200), radius=3)]
    out = engine.colorize(grey, hints)
    state = engine._photo(grey)
    prior = upsample_chroma(state.prior, grey)  # the working size is the photo's here
    laplacian = affinity_laplacian(grey, feature_map(state.components, (120, 80), grey), SETTINGS.feature_softness,
                                   grey_cap=SETTINGS.grey_cap)
    colours, mask = rasterize(hints, (120, 80))
    decay = 1e-3 / len(hints) ** SETTINGS.decay_power
    own = 2 / (2 + 2.0)
    spread_part = spread(laplacian, (colours - (1 - own) * prior) * mask[..., None], mask, decay)
    reach = np.clip(spread(laplacian, mask[..., None], mask, decay), 0.0, 1.0)
    expected = paint_exact((1 - own * reach) * prior + spread_part, hints)
    assert reach.min() < 0.5 < reach.max()  # the share differs across the photo: the test can tell
    assert np.abs(out - expected).max() < 0.05


def test_one_hint_leaves_what_it_does_not_reach_as_it_was(engine):
    """The hints' share of the say is taken only where they reach: one hint in one room
    does not dim the automatic colour of the other (before session 14 it dimmed every
    pixel by 1 / (1 + hints_share))."""
    engine.settings = replace(SETTINGS, working_side=120, hints_share=2.0, decay=1e-2)
    grey = two_rooms()
    before = engine.colorize(grey, [])
    after = engine.colorize(grey, [point_hint(20.5, 40.5, (200, 30, 30), radius=3)])
    far = np.abs(after - before)[:, 70:]  # the other room, behind the wall
    near = np.abs(after - before)[35:46, 15:26]
    assert near.max() > 20.0
    assert far.max() < 0.5


def test_a_keep_stroke_stops_a_hints_colour_and_holds_the_automatic_colour(engine):
    """A keep stroke across the room holds the colour there is without hints, and the red
    painted on one side reaches the other side less; alone, keep hints change nothing."""
    engine.settings = replace(SETTINGS, working_side=120, hints_share=2.0, decay=1e-4)
    grey = two_rooms()
    before = engine.colorize(grey, [])
    assert np.array_equal(engine.colorize(grey, [keep_hint([(40.0, 0.0), (40.0, 79.0)], 2.0)]), before)
    red = point_hint(20.5, 40.5, (200, 30, 30), radius=3)
    wall = keep_hint([(40.0, 0.0), (40.0, 79.0)], 2.0)
    free = np.linalg.norm(engine.colorize(grey, [red]) - before, axis=-1)
    held = np.linalg.norm(engine.colorize(grey, [red, wall]) - before, axis=-1)
    assert free[:, 44:58].mean() > 20.0  # the red alone fills the room (the test can tell)
    assert held[:, 39:42].max() < 1.0  # under the keep stroke: the automatic colour
    assert held[:, 44:58].mean() < 0.5 * free[:, 44:58].mean()  # beyond it, much less red
    assert held[35:46, 15:26].min() > 20.0  # the red is still followed on its own side


def test_a_keep_hint_does_not_count_as_a_hint_for_how_far_colour_reaches(engine):
    """The fade weakens as hints become many; a keep hint is no colour hint, so one in the
    other room leaves a red hint's reach as it was (the keep's far reach is off here)."""
    engine.settings = replace(SETTINGS, working_side=120, decay=1e-3)
    grey = two_rooms()
    red = point_hint(20.5, 40.5, (200, 30, 30), radius=3)
    alone = engine.colorize(grey, [red])
    with_keep = engine.colorize(grey, [red, keep_hint([(100.0, 40.0)], 3.0)])
    np.testing.assert_allclose(with_keep[:, :55], alone[:, :55], atol=0.05)
    # A grey colour hint in its place fades the red more slowly: the test can tell.
    with_grey = engine.colorize(grey, [red, point_hint(100.0, 40.0, (128, 128, 128), 3)])
    assert np.abs(with_grey[:, :55] - alone[:, :55]).max() > 0.5

def test_output_has_the_photos_size_for_odd_shapes(engine):
    for shape in ((1, 1), (1, 37), (300, 7), (97, 131)):
        grey = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
        out = engine.colorize(grey, [point_hint(0.5, 0.5, (10, 200, 10))])
        assert out.shape == (*shape, 2) and np.isfinite(out).all()


def test_backbone_size_is_patch_aligned():
    assert backbone_size((427, 640)) == (224, 154)
    assert backbone_size((1, 5000)) == (224, 14)
    assert backbone_size((1000, 6000)) == (224, 42)  # a panorama too: see its docstring


def test_spread_is_exact_at_hints_and_fades_with_decay():
    grey = np.full((30, 60), 128, dtype=np.uint8)
    laplacian = affinity_laplacian(grey)
    values = np.zeros((30, 60, 1), dtype=np.float32)
    mask = np.zeros((30, 60), dtype=np.float32)
    values[15, 5], mask[15, 5] = 10.0, 1.0
    weak = spread(laplacian, values, mask, decay=1e-6)
    strong = spread(laplacian, values, mask, decay=1e-1)
    assert weak[15, 5, 0] == pytest.approx(10.0) and strong[15, 5, 0] == pytest.approx(10.0)
    assert weak[15, 55, 0] > 5.0  # nothing pulls it back: it reaches the far side
    assert strong[15, 55, 0] < 0.1  # a strong pull keeps it near the hint


def test_features_stop_a_hint_where_grey_alone_would_not():
    """Equal grey on both sides, different features: the change stays on its side."""
    grey = np.full((20, 40), 128, dtype=np.uint8)
    features = np.zeros((20, 40, 2), dtype=np.float32)
    features[:, :20, 0] = 1.0
    features[:, 20:, 1] = 1.0
    values = np.zeros((20, 40, 1), dtype=np.float32)
    mask = np.zeros((20, 40), dtype=np.float32)
    values[10, 5], mask[10, 5] = 10.0, 1.0
    plain = spread(affinity_laplacian(grey), values, mask, decay=1e-4)
    gated = spread(affinity_laplacian(grey, features, feature_softness=0.1), values, mask, decay=1e-4)
    assert plain[:, 25:].mean() > 5.0
    assert gated[:, 25:].mean() < 0.5 and gated[:, :15].mean() > 5.0


def test_feature_map_puts_a_change_of_object_on_the_grey_edge():
    """Two kinds of token meeting mid-token; the grey edge lies elsewhere in that token.
    The features must change across the grey edge, not evenly across the token's width."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(384), rng.standard_normal(384)
    tokens = np.stack([a] * 4 + [b] * 4, axis=1)[:, None, :].repeat(4, axis=1).astype(np.float32)  # (384, 4, 8)
    grey = np.full((48, 96), 60, np.uint8)
    grey[:, 50:] = 200  # the object's edge: at x = 50 (tokens change at x = 48 on this grid)

    def steps(features):  # cosine between horizontal neighbours, per column
        return (features[:, 1:] * features[:, :-1]).sum(-1).mean(axis=0)

    guided = steps(feature_map(token_components(tokens), (96, 48), grey))
    assert guided.argmin() == 49 and guided[49] < 0.5  # the change: between x = 49 and 50
    assert guided[40:48].min() > 0.9 and guided[51:60].min() > 0.9
    unguided = steps(feature_map(token_components(tokens), (96, 48)))
    assert unguided.argmin() != 49  # without the grey: where the tokens meet


def test_settings_come_only_from_the_manifest():
    with pytest.raises(EngineError, match="inference settings"):
        SemanticSettings.from_manifest({"sha256": "x"})
    with pytest.raises(EngineError):
        SemanticSettings.from_manifest({"inference": {"temperature": "hot"}})
    values = {"temperature": 0.5, "blend": 0.4, "chroma_scale": 1.0, "working_side": 200, "draft_side": 100,
              "feature_softness": 0.2, "grey_cap": 1e-3, "decay": 0.01, "decay_power": 1.5,
              "nonlocal_softness": 0.1, "hints_share": 50.0, "belief_softness": 0.08, "belief_strength": 1.0}
    assert SemanticSettings.from_manifest({"inference": values}).working_side == 200


def test_a_hint_reaches_the_same_thing_beyond_a_wall_but_not_the_wall():
    """Sky left and right of a tower: the hint on the left sky also colours the right sky."""
    tokens = np.zeros((4, 8, 12), dtype=np.float32)
    tokens[0] = 1.0  # sky everywhere ...
    tokens[:, :, 4:8] = 0.0
    tokens[1, :, 4:8] = 1.0  # ... but a tower in the middle columns
    grey = np.full((40, 60), 200, dtype=np.uint8)
    grey[:, 20:40] = 80
    target = nonlocal_target(token_components(tokens), np.array([[0.05, 0.5]]), np.array([[12.0, -6.0]]), (60, 40),
                             softness=0.1)
    values = np.zeros((40, 60, 2), dtype=np.float32)
    mask = np.zeros((40, 60), dtype=np.float32)
    values[20, 3], mask[20, 3] = (12.0, -6.0), 1.0
    out = spread(affinity_laplacian(grey), values, mask, decay=1e-2, target=target)
    assert np.abs(out[:, 48:, 0] - 12.0).max() < 1.5  # the far sky follows
    assert np.abs(out[:, 24:36]).max() < 1.5  # the tower does not
    without = spread(affinity_laplacian(grey), values, mask, decay=1e-2)
    assert np.abs(without[:, 48:, 0]).max() < 1.0  # edges alone would stop it at the tower


def test_a_strokes_points_reach_far_as_one_hint_not_as_many():
    """Eight points of one stroke on a jacket reach a half-alike dog no further than one
    point does; summed, they took the dog to the stroke's whole change (a walk-through)."""
    tokens = np.zeros((4, 6, 8), dtype=np.float32)
    tokens[0] = 1.0  # the field
    tokens[:, 1:5, 1:3] = 0.0
    tokens[1, 1:5, 1:3] = 1.0  # the jacket
    tokens[:, 2:5, 5:7] = 0.0
    tokens[1:3, 2:5, 5:7] = 1.0  # the dog: half like the jacket
    components = token_components(tokens)
    stroke = np.array([[0.2, 0.2 + 0.06 * k] for k in range(8)], dtype=np.float32)  # down the jacket
    asked = np.tile([[30.0, -10.0]], (8, 1)).astype(np.float32)
    one = nonlocal_target(components, stroke[:1], asked[:1], (8, 6), softness=0.2)
    summed = nonlocal_target(components, stroke, asked, (8, 6), softness=0.2)
    pooled = nonlocal_target(components, stroke, asked, (8, 6), softness=0.2, trust=np.full(8, 1 / 8))
    dog = (slice(2, 5), slice(5, 7))
    assert np.abs(one[1:5, 1:3] - asked[0]).max() < 1e-3  # the jacket takes it either way
    assert summed[dog][..., 0].min() > 2 * one[dog][..., 0].max()  # the bug: eight votes
    np.testing.assert_allclose(pooled, one, atol=1e-3)
    # Two hints stay two: a second point on the field adds its own vote.
    both = nonlocal_target(components, np.vstack([stroke, [[0.9, 0.1]]]), np.vstack([asked, [[-20.0, 5.0]]]),
                           (8, 6), softness=0.2, trust=np.array([1 / 8] * 8 + [1.0]))
    assert np.abs(both[0, 7] - [-20.0, 5.0]).max() < 0.05
    np.testing.assert_allclose(both[1:5, 1:3], one[1:5, 1:3], atol=0.5)


def test_draft_during_a_stroke_is_what_its_final_will_be(engine):
    """Once the photo's graph is ready, a draft is the final's own solve cut short: the user
    sees no jump when the stroke ends (the old half-size draft differed by 5 grey levels)."""
    engine.settings = replace(SETTINGS, working_side=240)  # strokes as small a part of it as in a photo
    rng = np.random.default_rng(2)
    grey = rng.integers(40, 200, (160, 240), dtype=np.uint8)
    grey = (np.add.accumulate(grey, axis=1) // np.arange(1, 241)).astype(np.uint8)  # smooth streaks
    engine.prepare_strokes(grey)
    hints = [point_hint(40.5, 80.5, (200, 30, 30), radius=3)]
    engine.colorize(grey, hints)
    stroke = Hint(((140.0, 60.0), (156.0, 66.0), (170.0, 72.0)), (30, 60, 220), 3.0)  # a hand's short stroke
    before = engine.colorize(grey, hints)
    draft = engine.colorize(grey, [*hints, stroke], draft=True)
    final = engine.colorize(grey, [*hints, stroke])
    change, jump = np.abs(final - before), np.abs(final - draft)
    assert change.max() > 20.0  # the stroke changes colour visibly ...
    # ... and the draft already shows that change.  This photo lets a stroke reach every
    # pixel, so the draft's far field is the least finished part; on the sample photo at
    # 12 MP the jump is 0.09 grey levels on average, 2.6 at most.
    assert jump.mean() < 0.15 * change.mean()
    assert np.percentile(jump, 99) < 0.15 * change.max()


def test_the_first_stroke_after_preparing_needs_no_whole_factorisation(engine, monkeypatch):
    """``prepare_strokes`` factorises the graph so the first stroke need not: it solves
    three channels (colours and reach), and a start made for two cost a whole factorisation."""
    engine.settings = replace(SETTINGS, hints_share=30.0)
    grey = two_rooms()
    engine.prepare_strokes(grey)
    pixels = fit_size(grey.shape, SETTINGS.working_side)
    sizes = count_stroke_factorisations(monkeypatch)
    out = engine.colorize(grey, [point_hint(20.5, 40.5, (200, 30, 30), radius=3)])
    assert np.isfinite(out).all()
    assert sizes and max(sizes) < pixels[0] * pixels[1]  # only the stroke's surroundings


def test_drafts_before_the_graph_is_ready_still_come(engine):
    grey = two_rooms()
    draft = engine.colorize(grey, [point_hint(20.5, 40.5, (200, 30, 30), radius=3)], draft=True)
    assert draft.shape == (*grey.shape, 2) and np.isfinite(draft).all()


def _head(seed: int, token_width: int = 16, width: int = 8) -> SemanticColorHead:
    torch.manual_seed(seed)
    head = SemanticColorHead(token_width, width).eval()
    for p in head.parameters():
        torch.nn.init.normal_(p, std=0.3)  # far from each other, so averaging shows
    return head


def test_an_ensemble_averages_its_heads_probabilities_and_regressions():
    heads = [_head(1), _head(2, token_width=24)]
    rebuilt = head_from_state(ensemble_state([h.state_dict() for h in heads])).eval()
    assert isinstance(rebuilt, HeadEnsemble) and len(rebuilt.members) == 2
    assert rebuilt.members[1].tokens_in[0].out_channels == 24  # each member keeps its own size
    tokens, grey = torch.randn(1, 384, 4, 6), torch.rand(1, 1, 56, 84) * 255
    with torch.inference_mode():
        logits, regression = rebuilt(tokens, grey)
        outputs = [h(tokens, grey) for h in heads]
    expected = torch.stack([torch.softmax(logits_i, dim=1) for logits_i, _ in outputs]).mean(dim=0)
    assert torch.allclose(torch.softmax(logits, dim=1), expected, atol=1e-5)
    assert torch.allclose(regression, (outputs[0][1] + outputs[1][1]) / 2, atol=1e-5)
    assert not torch.allclose(expected, torch.softmax(outputs[0][0], dim=1), atol=1e-3)


def test_an_ensemble_of_one_head_twice_colours_as_that_head():
    head = _head(3)
    twice = head_from_state(ensemble_state([head.state_dict(), head.state_dict()])).eval()
    tokens, grey = torch.randn(1, 384, 4, 4), torch.rand(1, 1, 56, 56) * 255
    with torch.inference_mode():
        alone = head.colour(*head(tokens, grey), 0.35, 0.7)
        together = twice.colour(*twice(tokens, grey), 0.35, 0.7)
    assert torch.allclose(alone, together, atol=1e-3)


def test_a_single_heads_file_still_loads_as_one_head():
    head = _head(4)
    assert isinstance(head_from_state(head.state_dict()), SemanticColorHead)


def _painted_rooms(h: int = 80, w: int = 120) -> np.ndarray:
    """A colour photo of ``two_rooms``: a bluish left room with a red stripe, a green right room."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, : w // 2] = (40, 60, 110)
    # A thin stripe of another colour but the same grey: no guide from the grey brings it
    # back from the working size.
    rgb[30:32, 5:55] = (100, 40, 60)
    rgb[:, w // 2:] = (170, 200, 150)
    return rgb


def _recolour_change(engine, rgb: np.ndarray, hint: Hint, at: tuple[int, int]) -> tuple[np.ndarray, float]:
    """How far recolouring ``rgb`` with ``hint`` moves each pixel's chroma, and how far the
    hint asks the pixel at ``at`` = (row, column) to move."""
    from colorme_desktop.core.color import chroma_of, luma

    own = chroma_of(rgb)
    out = engine.colorize(luma(rgb), [hint], photo_rgb=rgb)
    return np.linalg.norm(out - own, axis=-1), float(np.linalg.norm(np.array(chroma_of_color(hint.color)) - own[at]))


def test_recolouring_keeps_the_photos_own_colours_where_no_hint_reaches(engine):
    from colorme_desktop.core.color import chroma_of, luma

    rgb = _painted_rooms()
    grey = luma(rgb)
    own = chroma_of(rgb)
    untouched = engine.colorize(grey, [], photo_rgb=rgb)
    assert np.abs(untouched - own).max() < 1e-4  # no hints: the photo as it is, stripe and all
    yellow = (220, 200, 40)
    hint = point_hint(30.5, 60.5, yellow, radius=3)
    after = engine.colorize(grey, [hint], photo_rgb=rgb)
    wanted = np.array(chroma_of_color(yellow))
    asked = np.linalg.norm(wanted - own[60, 30])
    assert np.linalg.norm(after[60, 30] - wanted) < 0.05 * asked  # the hint is followed
    assert np.linalg.norm(after[60:, :50] - own[60:, :50], axis=-1).mean() > 0.5 * asked  # its room follows
    assert np.abs(after[:, 70:] - own[:, 70:]).max() < 0.02 * asked  # the other room keeps its colour
    # The change is judged and added at the photo's size, not on a working-size copy: the
    # stripe, another colour painted on by no hint, keeps its colour to the pixel, and the
    # wall right beside it follows the hint as the rest of the room does.
    assert np.linalg.norm(after[30:32, 10:50] - own[30:32, 10:50], axis=-1).max() < 0.02 * asked
    assert np.linalg.norm(after[29, 10:50] - own[29, 10:50], axis=-1).min() > 0.5 * asked


def test_recolouring_a_keep_stroke_holds_the_photos_own_colour(engine):
    from colorme_desktop.core.color import chroma_of, luma

    rgb = _painted_rooms()
    grey, own = luma(rgb), chroma_of(rgb)
    yellow = point_hint(30.5, 60.5, (220, 200, 40), radius=3)
    wall = keep_hint([(5.0, 45.0), (55.0, 45.0)], 3.0)  # across the room, between the hint and the top
    free = np.linalg.norm(engine.colorize(grey, [yellow], photo_rgb=rgb) - own, axis=-1)
    held = np.linalg.norm(engine.colorize(grey, [yellow, wall], photo_rgb=rgb) - own, axis=-1)
    assert free[5:25, 10:50].mean() > 20.0  # alone, the yellow takes the whole room
    assert held[43:48, 10:50].max() < 1.0  # the keep stroke: the photo's own colour, to the pixel
    assert held[5:25, 10:50].mean() < 0.5 * free[5:25, 10:50].mean()  # beyond it, much less yellow
    assert held[60, 30] > 20.0  # the hint itself is still followed
    assert np.array_equal(engine.colorize(grey, [wall], photo_rgb=rgb), engine.colorize(grey, [], photo_rgb=rgb))

def test_recolouring_leaves_no_trace_on_a_dark_neighbour(engine):
    """The graph's weak links carried a trace of a recoloured coat's change into the dark
    trousers below it (2.6-3 levels of chroma on a real photo: unseen, but no longer the
    photo's own colour); what no hint really reaches keeps its colour exactly."""
    from colorme_desktop.core.color import chroma_of, luma

    rgb = np.zeros((90, 120, 3), np.uint8)
    rgb[:] = (190, 175, 150)  # grass
    rgb[10:50, 30:90] = (20, 90, 200)  # a blue coat
    rgb[50:85, 35:85] = (25, 30, 55)  # dark bluish trousers under it
    rgb = cv2.GaussianBlur(rgb, (0, 0), 1.0)  # edges soft as a lens makes them
    rgb = np.clip(rgb + np.random.default_rng(0).normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)
    own = chroma_of(rgb)
    out = engine.colorize(luma(rgb), [Hint(((60.0, 20.0), (60.0, 40.0)), (200, 30, 30), 3.0)], photo_rgb=rgb)
    assert np.linalg.norm(out[15:45, 35:85] - own[15:45, 35:85], axis=-1).mean() > 100  # the coat: red
    assert np.abs(out[55:85, 40:80] - own[55:85, 40:80]).max() < 1e-3  # the trousers: as they were


def test_recolouring_leaves_far_things_of_the_same_kind_as_they_are(engine):
    """A hint's far reach (``nonlocal_softness``) stands in for the automatic colour's guesses;
    a colour photo's own colours are no guess, and the room no hint reaches keeps them."""
    from colorme_desktop.core.color import chroma_of, luma

    rgb = _painted_rooms()
    grey = luma(rgb)
    far = SemanticEngine(engine.backbone, engine.head, replace(SETTINGS, nonlocal_softness=1.0))
    hint = point_hint(30.5, 60.5, (220, 200, 40), radius=3)
    # On the grey photo the far reach does carry the hint into the other room ...
    assert np.abs(far.colorize(grey, [hint])[:, 70:] - engine.colorize(grey, [hint])[:, 70:]).max() > 1.0
    # ... and recolouring does not.
    own = chroma_of(rgb)
    asked = np.linalg.norm(np.array(chroma_of_color(hint.color)) - own[60, 30])
    after = far.colorize(grey, [hint], photo_rgb=rgb)
    assert np.abs(after[:, 70:] - own[:, 70:]).max() < 0.02 * asked


def test_recolouring_drafts_and_screen_size_results_agree_with_the_final(engine):
    from colorme_desktop.core.color import chroma_of, luma

    rgb = _painted_rooms()
    grey = luma(rgb)
    hints = [point_hint(30.5, 60.5, (220, 200, 40), radius=3)]
    final = engine.colorize(grey, hints, photo_rgb=rgb)
    draft = engine.colorize(grey, hints, draft=True, photo_rgb=rgb)
    assert np.abs(final - draft)[5:-5, 5:-5].mean() < 1.0
    shown = cv2.resize(grey, (60, 40), interpolation=cv2.INTER_AREA)
    small = engine.colorize(grey, hints, shown=shown, photo_rgb=rgb)
    assert small.shape == (40, 60, 2)
    shrunk = chroma_of(cv2.resize(rgb, (60, 40), interpolation=cv2.INTER_AREA))
    assert np.abs(small[:, 36:] - shrunk[:, 36:]).max() < 1.0  # the far room as the photo shows it


def test_recolouring_stops_at_a_colour_edge_that_the_grey_does_not_show(engine):
    from colorme_desktop.core.color import luma

    rgb = np.zeros((80, 120, 3), np.uint8)
    rgb[:, :60] = (200, 60, 60)  # a red coat ...
    rgb[:, 60:] = (50, 133, 60)  # ... on a green lawn of (nearly) the same grey
    grey = luma(rgb)
    assert abs(int(grey[0, 0]) - int(grey[0, 119])) <= 3
    hint = point_hint(50.5, 40.5, (40, 60, 200), radius=3)  # the coat becomes blue
    change, asked = _recolour_change(engine, rgb, hint, (40, 50))
    lawn_change = change[:, 66:].mean()
    assert lawn_change < 0.02 * asked
    assert change[:, 40:58].mean() > 0.5 * asked
    # The grey alone cannot tell coat from lawn: without the photo's colours the hint crosses.
    from_grey = engine.colorize(grey, [hint])
    automatic = engine.colorize(grey, [])
    assert np.linalg.norm(from_grey[:, 62:70] - automatic[:, 62:70], axis=-1).mean() > 0.1 * asked


def test_recolouring_at_full_size_keeps_the_colour_edge_that_the_grey_does_not_show(engine):
    """Ten full-size pixels per working pixel: the change is brought to full size along the
    photo's colour edges, not only its grey ones (guided by the grey, the lawn beside the
    coat took a third of the coat's change over a working pixel's width)."""
    rgb = np.zeros((640, 960, 3), np.uint8)
    rgb[:, :485] = (200, 60, 60)
    rgb[:, 485:] = (50, 133, 60)
    hint = Hint(((300.5, 200.5), (440.5, 420.5)), (40, 60, 200), 6.0)
    change, asked = _recolour_change(engine, rgb, hint, (300, 400))
    assert change[:, 400:480].mean() > 0.5 * asked  # the coat next to the edge follows the hint
    assert change[:, 486:500].max() < 0.05 * asked  # the first pixels of the lawn do not


def test_recolouring_an_edited_copy_with_the_same_grey_uses_the_copys_colours(engine):
    """What the engine keeps per photo is found by the grey; a copy whose colours were
    edited and whose grey was not must not be recoloured from the first photo's colours."""
    from colorme_desktop.core.color import chroma_of, luma

    first = _painted_rooms()
    grey = luma(first)
    hint = point_hint(90.5, 40.5, (220, 200, 40), radius=3)  # in the right room
    engine.colorize(grey, [hint], photo_rgb=first)
    edited = first.copy()
    edited[:, 60:] = first[:, 60:][..., [1, 0, 2]]  # the right room's red and green swapped
    assert np.abs(chroma_of(edited)[:, 70:] - chroma_of(first)[:, 70:]).max() > 20.0  # they do differ
    out = engine.colorize(grey, [hint], photo_rgb=edited)
    fresh = SemanticEngine(engine.backbone, engine.head, engine.settings).colorize(grey, [hint], photo_rgb=edited)
    assert np.abs(out - fresh).max() < 0.5


def test_recolouring_a_thin_thing_leaves_the_ground_around_it(engine, monkeypatch):
    """A brush on a working-size canvas covers more than a thin bar: pixels there that are
    mostly background must not be fixed to the bar's new colour (it flooded the road
    behind a bike's tube)."""
    from colorme_desktop.core import hints as hints_module

    rgb = np.full((640, 960, 3), 120, np.uint8)
    rgb[300:320, 100:860] = (200, 40, 40)  # a bar two working pixels thick
    hint = Hint(((120.5, 309.5), (840.5, 309.5)), (40, 60, 220), 24.0)
    change, asked = _recolour_change(engine, rgb, hint, (310, 400))
    assert change[303:317, 150:800].mean() > 0.8 * asked  # the bar takes the colour
    assert change[:200].max() < 0.02 * asked  # the ground well away from it does not
    monkeypatch.setattr(hints_module, "RECOLOUR_MATCH", 1e9)  # the rule off: the brush's ground pixels are fixed too
    # ... and the later check by colour too (``_keep_table``), which would hide the flood at the output
    keep_all = np.ones((semantic_engine.KEEP_GREY_BINS, 256, 256), np.float32)
    monkeypatch.setattr(semantic_engine, "_keep_table", lambda painted_on: keep_all)
    flooded, _ = _recolour_change(SemanticEngine(engine.backbone, engine.head, engine.settings), rgb, hint, (310, 400))
    assert flooded[:200].max() > 0.1 * asked  # what the rule prevents


def test_recolouring_one_thing_does_not_widen_another_hints_reach(engine):
    from colorme_desktop.core.color import luma

    rgb = _painted_rooms()
    rgb[:, :60] = (40, 60, 110)  # the left room plain (no stripe)
    grey = luma(rgb)
    left = point_hint(15.5, 40.5, (220, 200, 40), radius=3)
    right = point_hint(100.5, 40.5, (200, 40, 160), radius=3)
    alone = engine.colorize(grey, [left], photo_rgb=rgb)
    both = engine.colorize(grey, [left, right], photo_rgb=rgb)
    assert np.abs(both[:, :55] - alone[:, :55]).max() < 1.0


def test_the_automatic_colour_changes_at_the_grey_edge_not_between_cells(engine):
    """A head cell is several working pixels wide: blended bilinearly, the colour of one
    side of a wall would leak onto the other; brought up on the grey, it stops at the wall."""
    grey = two_rooms()
    state = engine._photo(grey)
    h8, w8 = state.prior.shape[:2]
    cells = np.arange(w8)[None, :, None] + 0.5
    state.prior = np.where(cells < w8 / 2, np.float32([-30, 20]), np.float32([25, -35])) * np.ones((h8, 1, 1),
                                                                                                    np.float32)
    out = engine.colorize(grey, [])
    blended = cv2.resize(state.prior, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    wall = grey.shape[1] // 2
    near = np.s_[:, wall - 3:wall + 3]
    truth = np.where(np.arange(grey.shape[1])[None, :, None] < wall, np.float32([-30, 20]), np.float32([25, -35]))
    truth = np.broadcast_to(truth, out.shape)
    assert np.abs(out[near] - truth[near]).mean() < 0.5 * np.abs(blended[near] - truth[near]).mean()


def test_recolouring_a_white_thing_leaves_a_tan_patch_inside_it(engine):
    """A patch of another colour that no hint was painted on keeps its colour, even where
    the hinted colour surrounds it.  Through the graph alone it took a share of the change:
    only the weak fade holds a small region no hint reaches to its own colour (a brown
    rock under a recoloured sky, tan grass between a white horse's legs)."""
    from colorme_desktop.core.color import chroma_of, luma

    rgb = np.full((80, 120, 3), (222, 220, 218), np.uint8)  # off-white
    rgb[30:42, 74:86] = (242, 216, 186)  # tan of the same grey, 23 levels of chroma away
    own = chroma_of(rgb)
    assert 20 < np.linalg.norm(own[35, 80] - own[10, 10]) < 25
    after = engine.colorize(luma(rgb), [point_hint(40.5, 36.5, (220, 40, 40), radius=3)], photo_rgb=rgb)
    asked = np.linalg.norm(np.array(chroma_of_color((220, 40, 40))) - own[36, 40])
    moved = np.linalg.norm(after - own, axis=-1)
    assert moved[30:42, 74:86].max() < 0.02 * asked  # the patch keeps its colour
    assert moved[20:50, 60:100].max() > 0.3 * asked  # while the white around it follows the hint


def test_recolouring_a_strong_colour_takes_its_lit_side_along(engine):
    """Light turns a strong colour a little (a blue jacket's lit shoulder: brighter, 8 degrees
    toward cyan, 15 levels away): still the colour painted on, so it takes the change."""
    from colorme_desktop.core.color import chroma_of, luma

    rgb = np.zeros((80, 120, 3), np.uint8)
    shade = np.linspace(0.0, 1.0, 120)[None, :, None]
    rgb[:] = np.round((1 - shade) * np.array([5, 79, 212]) + shade * np.array([5, 119, 251])).astype(np.uint8)
    own = chroma_of(rgb)
    assert np.linalg.norm(own[40, 115] - own[40, 5]) > 14  # as far apart as on the jacket
    red = (200, 40, 40)
    after = engine.colorize(luma(rgb), [point_hint(5.5, 40.5, red, radius=3)], photo_rgb=rgb)
    moved = np.linalg.norm(after - own, axis=-1)
    asked = np.linalg.norm(np.array(chroma_of_color(red)) - own[40, 5])
    assert moved[30:50, 100:120].mean() > 0.6 * asked  # the lit end turns as the shaded one does


def test_recolouring_a_white_thing_leaves_dark_grey_ground_of_no_colour_either(engine):
    """Chroma cannot tell white from dark grey: lightness can.  Dark mud between a white
    horse's legs, reached through the grass, took the horse's red (session 15)."""
    from colorme_desktop.core.color import chroma_of, luma

    yy, xx = np.mgrid[0:80, 0:120]
    apart = np.clip((np.hypot(yy - 40, xx - 85) - 8) / 12, 0, 1)  # a dark patch fading into the white
    rgb = np.repeat(np.round(90 + (225 - 90) * apart)[..., None], 3, axis=2).astype(np.uint8)
    own = chroma_of(rgb)
    red = (220, 40, 40)
    after = engine.colorize(luma(rgb), [point_hint(20.5, 40.5, red, radius=3)], photo_rgb=rgb)
    moved = np.linalg.norm(after - own, axis=-1)
    asked = np.linalg.norm(np.array(chroma_of_color(red)))
    assert moved[36:45, 81:90].max() < 0.05 * asked  # the dark patch keeps its grey
    assert moved[10:70, 5:50].mean() > 0.5 * asked  # the white around the hint turns red


def test_recolouring_a_strong_colour_takes_its_deep_shade_along(engine):
    """A strong colour names its thing by hue: the folds and hood shadow of a blue jacket,
    at a third of the grey painted on and as much weaker, kept their blue while the
    lightness rule was the one for faint colours and strength was judged without the
    light (a walk-through, session 16)."""
    from colorme_desktop.core.color import chroma_of, luma

    shade = np.linspace(0.0, 1.0, 120)[None, :, None]
    rgb = np.zeros((80, 120, 3), np.uint8)
    rgb[:] = np.round((1 - shade) * np.array([20, 100, 235]) + shade * np.array([6, 30, 75])).astype(np.uint8)
    own = chroma_of(rgb)
    grey = luma(rgb)
    assert grey[40, 5] > 2.8 * grey[40, 115]  # lit side to deep shade
    # A third as strong: the same blue in a third of the light, not a paler one.
    assert np.linalg.norm(own[40, 115]) < 0.4 * np.linalg.norm(own[40, 5])
    red = (200, 40, 40)
    after = engine.colorize(grey, [point_hint(5.5, 40.5, red, radius=3)], photo_rgb=rgb)
    moved = np.linalg.norm(after - own, axis=-1)
    asked = np.linalg.norm(np.array(chroma_of_color(red)) - own[40, 5])
    assert moved[30:50, 100:120].mean() > 0.6 * asked


def test_recolouring_a_strong_colour_takes_its_stronger_lit_side_along(engine):
    """The lit shoulder of that jacket is a quarter stronger and 10 degrees toward cyan: the
    turn, measured at the shoulder's strength, counted as more than a turn and kept a fifth
    of its blue in patches."""
    from colorme_desktop.core.color import chroma_of, luma

    # From the shade painted on to its lit shoulder, as measured on the jacket, gradually
    # (a sudden change of colour is an edge, which the graph cuts).
    light = np.linspace(0.0, 1.0, 120)[None, :, None]
    rgb = np.zeros((80, 120, 3), np.uint8)
    rgb[:] = np.round((1 - light) * np.array([5, 64, 184]) + light * np.array([8, 119, 245])).astype(np.uint8)
    own = chroma_of(rgb)
    turn = np.degrees(np.arctan2(own[40, 115, 1], own[40, 115, 0]) - np.arctan2(own[40, 5, 1], own[40, 5, 0]))
    assert 8 < abs(turn) < 11 and np.linalg.norm(own[40, 115]) > 1.2 * np.linalg.norm(own[40, 5])
    red = (200, 40, 40)
    after = engine.colorize(luma(rgb), [point_hint(5.5, 40.5, red, radius=3)], photo_rgb=rgb)
    moved = np.linalg.norm(after - own, axis=-1)
    asked = np.linalg.norm(np.array(chroma_of_color(red)) - own[40, 5])
    assert moved[20:60, 105:120].mean() > 0.85 * asked


def test_recolouring_leaves_specks_of_the_colour_that_the_thing_does_not_join(engine):
    """Through the slow fade a white horse's red reached white specks in the grass around it
    (walk-throughs, sessions 15 and 16): of the colour painted on, but not joined to it."""
    from colorme_desktop.core.color import chroma_of, luma

    rgb = np.full((80, 160, 3), (242, 216, 186), np.uint8)  # tan ground
    rgb[:, :50] = (222, 220, 218)  # the white thing, of the ground's grey
    rgb[38:43, 75:80] = (222, 220, 218)  # a white speck in the ground
    own = chroma_of(rgb)
    red = (220, 40, 40)
    after = engine.colorize(luma(rgb), [point_hint(20.5, 40.5, red, radius=3)], photo_rgb=rgb)
    moved = np.linalg.norm(after - own, axis=-1)
    asked = np.linalg.norm(np.array(chroma_of_color(red)) - own[40, 20])
    assert moved[10:70, 5:45].mean() > 0.5 * asked  # the thing turns red
    assert moved[38:43, 75:80].max() < 0.02 * asked  # the speck keeps its white


def test_a_stroke_on_a_thing_thinner_than_a_token_does_not_reach_what_lies_behind_it(engine):
    """A red stroke along a bike's tube, 2.5 px wide at the backbone's size, went to the wall's
    and the wheels' tokens: its token is mostly wall (a walk-through, session 17)."""
    engine.settings = replace(SETTINGS, nonlocal_softness=0.5)
    grey = np.full((600, 1200), 180, dtype=np.uint8)
    grey[:, 300:310] = 50  # the tube: 1.9 px at 224 px, a token 75 px wide here
    red = (200, 30, 30)
    before = engine.colorize(grey, [])

    def far_wall_change(hint: Hint) -> float:
        after = engine.colorize(grey, [hint])
        return float(np.abs(after - before)[:, 900:1150].mean())

    along_the_tube = Hint(tuple((305.0, float(y)) for y in range(100, 500, 20)), red, 3.0)
    on_the_wall = Hint(tuple((150.0, float(y)) for y in range(100, 500, 20)), red, 3.0)
    wanted = float(np.abs(np.array(chroma_of_color(red))).mean())
    assert far_wall_change(on_the_wall) > 0.2 * wanted  # the far reach works: the tube cuts the grid
    assert far_wall_change(along_the_tube) < 0.02 * wanted


def test_a_hint_decides_what_the_heads_hesitated_over_and_cannot_tint_what_they_ruled_out(engine):
    """Grass the heads find green or brown, half and half, comes out olive.  A green hint on
    it makes the grass like it green; a red one, a colour the heads gave no chance, makes it
    the likely colour nearest red, a brown a little redder, not red (session 22, ``_believed``)."""
    engine.settings = replace(SETTINGS, blend=1.0, belief_softness=0.08, belief_strength=1.0)
    grey = np.full((80, 120), 110, np.uint8)
    state = engine._photo(grey)
    centres = engine.head.centres
    green, brown = np.array(chroma_of_color((60, 150, 60))), np.array(chroma_of_color((150, 100, 50)))
    k, h8, w8 = state.log_probs.shape
    probabilities = np.full((k, h8, w8), 1e-9, np.float32)
    for colour in (green, brown):
        near = np.exp(-((centres - colour) ** 2).sum(1) / (2 * 10.0 ** 2))  # each guess a few bins wide
        probabilities += 0.5 * (near / near.sum())[:, None, None]
    state.log_probs = np.log(probabilities)
    state.components = np.ones_like(state.components)  # every cell the same kind of thing
    olive = engine.head.decode(np.log(probabilities), state.regression, 0.6, 1.0)  # no hint
    olive_mean = olive.reshape(-1, 2).mean(axis=0)
    assert np.linalg.norm(olive_mean - green) > 15 and np.linalg.norm(olive_mean - brown) > 15

    def colour_after(hint_colour):
        hints = [point_hint(20, 40, hint_colour)]
        believed = engine._believed(state, hints, engine._far_points(state, grey, hints))
        return believed[h8 // 2, w8 - 1]  # a cell far from the hint

    assert np.linalg.norm(colour_after((60, 150, 60)) - green) < np.linalg.norm(olive_mean - green) / 3
    red = colour_after((220, 30, 30))
    asked = np.array(chroma_of_color((220, 30, 30)))
    assert np.linalg.norm(red - brown) < np.linalg.norm(red - asked) / 2  # a redder brown, no red grass


def test_recolouring_takes_a_things_pixels_whole_or_not_at_all(engine):
    """One blue stroke on a bus's orange front left its panels in blotches of violet, magenta
    and orange (a walk-through): a faded share of a change is a muddle of both colours.
    Along a long orange bar the hint's reach fades; each pixel takes all of the blue or none."""
    from colorme_desktop.core.color import chroma_of, luma

    rgb = np.full((40, 640, 3), 120, np.uint8)  # grey ground
    rgb[10:30, 10:630] = (230, 130, 30)  # a long orange bar
    grey, own = luma(rgb), chroma_of(rgb)
    hint = Hint(((14.0, 20.0), (40.0, 20.0)), (40, 110, 210), 3.0)
    asked = np.array(chroma_of_color(hint.color)) - own[20, 20]
    fading = SemanticEngine(engine.backbone, engine.head, replace(SETTINGS, decay=1e-3))  # ends within the bar
    taken = ((fading.colorize(grey, [hint], photo_rgb=rgb) - own) @ asked / (asked @ asked))[12:28, 12:628]
    assert taken[:, :40].min() > 0.9  # near the hint: blue
    assert (taken > 0.8).mean() > 0.15 and (taken < 0.2).mean() > 0.5  # the reach ends within the bar
    # ... and few of its pixels are left half-way: 31 % with the faded change itself.
    assert ((taken > 0.2) & (taken < 0.8)).mean() < 0.05

"""The GPU training path, run for a moment on the CPU: files, records and head sizes."""

import json

import numpy as np
import torch
from safetensors.torch import load_file

from colorme_desktop.engines.semantic import SemanticColorHead
from colorme_desktop.training import semantic_online
from colorme_desktop.training.semantic_online import Validation, Variant, train, unbundle
from tests.helpers import colourful_rgb


def _write_pack(path, photos):
    arrays = {f"train/{i:05d}": semantic_online._encode(p, 90) for i, p in enumerate(photos)}
    arrays["val/00000"] = semantic_online._encode(photos[0], 95)
    np.savez(path, **arrays)


def test_head_size_is_read_from_its_weights():
    wide = SemanticColorHead(token_width=32, width=16).eval()
    rebuilt = SemanticColorHead.from_state(wide.state_dict()).eval()
    tokens, grey = torch.randn(1, 384, 3, 4), torch.rand(1, 1, 42, 56) * 255
    with torch.no_grad():
        for a, b in zip(wide(tokens, grey), rebuilt(tokens, grey)):
            assert torch.equal(a, b)


def test_validation_reports_every_colour_setting():
    class Backbone(torch.nn.Module):
        def features(self, grey):
            return torch.zeros(grey.shape[0], 384, grey.shape[-2] // 14, grey.shape[-1] // 14)

    photo = colourful_rgb(120, 160, seed=3)
    validation = Validation([photo], Backbone(), torch.device("cpu"))
    assert validation.grey_psnr < 40  # a colourful photo is far from its grey version
    scores = validation.score(SemanticColorHead(token_width=8, width=8))
    assert set(scores) == {f"gain_T{t}_b{b}" for t, b in semantic_online.EVAL_COLOURS} | \
        {f"colour_T{t}_b{b}" for t, b in semantic_online.EVAL_COLOURS}


def test_a_short_run_keeps_states_per_variant_and_unbundles(tmp_path):
    photos = [colourful_rgb(90 + 10 * i, 120, seed=i) for i in range(3)]
    pack = tmp_path / "photos.npz"
    _write_pack(pack, photos)
    run = tmp_path / "run"
    variants = [Variant("a", token_width=16, width=8), Variant("b", token_width=8, width=8, lr=3e-4)]
    train(pack, run, variants, minutes=0.02, batch=2, eval_seconds=1e9, device=torch.device("cpu"))
    assert sorted(p.name for p in run.glob("bundle-*.safetensors")) == ["bundle-a.safetensors", "bundle-b.safetensors"]
    written = unbundle(run)
    assert {p.name.split("-step")[0] for p in written} == {"head-a", "head-b"}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["run"]["device"] == "cpu"
    for path in written:
        row = summary["checkpoints"][path.name]
        assert row["variant"] in ("a", "b") and "gain_T0.35_b1.0" in row
        head = SemanticColorHead.from_state(load_file(str(path)))
        expected = 16 if row["variant"] == "a" else 8
        assert head.tokens_in[0].out_channels == expected


def test_replicas_are_seeded_apart_and_see_their_own_photos():
    variants = semantic_online.replicas([Variant("a"), Variant("b", token_dropout=0.3)], seeds=3, photo_share=0.7)
    assert [v.name for v in variants] == ["a-s1", "a-s2", "a-s3", "b-s1", "b-s2", "b-s3"]
    assert all(v.photo_share == 0.7 for v in variants) and variants[3].token_dropout == 0.3
    bags = semantic_online.photo_bags(variants, 100, torch.device("cpu"))
    assert all(int(bag.sum()) == 70 for bag in bags.values())
    assert not torch.equal(bags["a-s1"], bags["a-s2"])
    assert torch.equal(bags["a-s1"], bags["b-s1"])  # the same seed, the same photos: variants compare fairly


def test_a_second_run_seeds_anew_even_with_one_seed():
    (only,) = semantic_online.replicas([Variant("a")], seeds=1, photo_share=1.0, first_seed=4)
    assert (only.name, only.seed) == ("a-s4", 4)
    assert semantic_online.replicas([Variant("a")], seeds=1, photo_share=1.0) == [Variant("a")]


def test_a_replica_learns_only_from_its_photos(tmp_path, monkeypatch):
    # Four flat photos of four greys: a crop's mean grey says which photo it came from.
    levels = (40, 100, 160, 220)
    photos = [np.dstack([np.full((100, 120), v + 20), np.full((100, 120), v), np.full((100, 120), v - 20)])
              .astype(np.uint8) for v in levels]
    pack = tmp_path / "photos.npz"
    _write_pack(pack, photos)
    (variant,) = semantic_online.replicas([Variant("d", token_width=8, width=8, token_dropout=0.5)], 1, 0.25)
    allowed = semantic_online.photo_bags([variant], len(photos), torch.device("cpu"))[variant.name]
    seen_greys = []
    real_loss = semantic_online.head_loss

    def recording_loss(head, tokens, grey, *args):
        seen_greys.extend(grey.mean(dim=(1, 2, 3)).tolist())
        return real_loss(head, tokens, grey, *args)

    monkeypatch.setattr(semantic_online, "head_loss", recording_loss)
    # 16 crops a step from four photos, drawn by a seeded stream: the first step alone
    # draws from the photos outside the bag too, so a replica that ignored it would fail here.
    train(pack, tmp_path / "run", [variant], minutes=0.02, batch=16, eval_seconds=1e9, device=torch.device("cpu"))
    luma = [0.299 * (v + 20) + 0.587 * v + 0.114 * (v - 20) for v in levels]
    came_from = [int(np.argmin([abs(g - level) for level in luma])) for g in seen_greys]
    assert came_from
    assert all(abs(g - luma[i]) < 3 for g, i in zip(seen_greys, came_from))
    assert set(came_from) <= {i for i in range(len(photos)) if allowed[i]}
    assert int(allowed.sum()) == 1

"""The CPU recipe for the colour head: cached crops, training that resumes, token dropout."""

import json
from dataclasses import replace

import torch

from colorme_desktop.training.semantic_train import HeadConfig, cache_features, load_cache, train_head
from tests.helpers import colourful_rgb


class RandomBackbone:
    """Stands in for DINOv2: tokens of the right shape, so the recipe runs in a moment."""

    def features(self, grey: torch.Tensor) -> torch.Tensor:
        return torch.randn(grey.shape[0], 384, grey.shape[-2] // 14, grey.shape[-1] // 14)


def test_cached_crops_train_a_head_that_resumes(tmp_path, monkeypatch):
    dropped = []
    real_dropout = torch.nn.functional.dropout2d

    def recording_dropout(x, p=0.5, *args, **kwargs):
        dropped.append((tuple(x.shape), p))
        return real_dropout(x, p, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "dropout2d", recording_dropout)
    photos = [colourful_rgb(120, 160, seed=i) for i in range(3)]
    cache_features(photos, tmp_path / "cache", crops_per_photo=2, backbone=RandomBackbone(), chunk=4)
    data = load_cache(tmp_path / "cache")
    assert data["tokens"].shape == (6, 384, 16, 16) and data["grey"].shape[0] == data["target"].shape[0] == 6
    config = HeadConfig(minutes=10, max_steps=4, batch=2, log_every=1, token_dropout=0.3, checkpoint_seconds=1e9)
    assert train_head(data, tmp_path / "run", config)["steps"] == 4
    assert ((2, 384, 16, 16), 0.3) in dropped  # whole token channels of each batch
    resumed = train_head(data, tmp_path / "run", replace(config, max_steps=6))
    assert resumed["steps"] == 6
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # the second run went on from the first, not from scratch

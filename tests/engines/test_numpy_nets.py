"""The numpy runtime gives the torch modules' numbers: the app runs what training trained."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorme_desktop.engines.dinov2 import Dinov2Small
from colorme_desktop.engines.numpy_nets import Dinov2Runtime, HeadRuntime, resize
from colorme_desktop.engines.semantic import HeadEnsemble, SemanticColorHead, ensemble_state, numpy_state


def random_backbone() -> Dinov2Small:
    """Weights large enough that every block changes the tokens (zeros would hide a wrong block)."""
    torch.manual_seed(0)
    model = Dinov2Small()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    return model.eval()


def grey_photo(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    ramp = np.linspace(0, 200, w)[None, :] + np.linspace(0, 40, h)[:, None]
    return np.clip(ramp + 25 * rng.standard_normal((h, w)), 0, 255).astype(np.float32)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(11, 16), (37, 37), (20, 28), (5, 3)])
def test_resize_is_torchs_interpolate(mode, size):
    x = np.random.default_rng(0).standard_normal((4, 11, 16)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=size, mode=mode,
                                               align_corners=False)[0].numpy()
    assert np.abs(resize(x, size, mode) - expected).max() < 1e-5


@pytest.mark.parametrize("layer", [12, 9])
def test_backbone_tokens_match_torch(layer):
    """A 3:2 photo (16 x 11 patches: the position embedding is resized) at the final and an inner layer."""
    model = random_backbone()
    grey = grey_photo(154, 224)
    with torch.inference_mode():
        if layer == 12:
            expected = model.features(torch.from_numpy(grey)[None, None])[0].numpy()
        else:  # the inner layer as engines.reference reads it: blocks up to it, a plain norm
            images = (torch.from_numpy(grey)[None, None].expand(-1, 3, -1, -1) - model.mean) / model.std
            x = model.patch_embed(images).flatten(2).transpose(1, 2) + model.position(11, 16)
            x = torch.cat([model.cls_token + model.pos_cls, x], dim=1)
            for block in model.blocks[:layer]:
                x = block(x)
            expected = torch.nn.functional.layer_norm(x, (384,))[0, 1:].T.reshape(384, 11, 16).numpy()
    tokens = Dinov2Runtime(numpy_state(model)).tokens(grey, layer=layer)
    assert tokens.shape == expected.shape
    error = np.abs(tokens - expected).max()
    assert error < 1e-3 * np.abs(expected).max()
    # Tokens of different places differ far more than the two computations do.
    assert np.abs(expected[:, :5] - expected[:, 5:10]).mean() > 10 * error


@pytest.mark.parametrize("members", [1, 3])
def test_head_colour_matches_torch(members):
    torch.manual_seed(1)
    heads = [SemanticColorHead().eval() for _ in range(members)]
    for head in heads:
        for p in head.parameters():
            torch.nn.init.normal_(p, std=0.1)
    module = heads[0] if members == 1 else HeadEnsemble(heads).eval()
    state = numpy_state(heads[0]) if members == 1 else ensemble_state([numpy_state(h) for h in heads])
    tokens = np.random.default_rng(2).standard_normal((384, 11, 16)).astype(np.float32)
    grey = grey_photo(154, 224)
    with torch.inference_mode():
        logits, regression = module(torch.from_numpy(tokens)[None], torch.from_numpy(grey)[None, None])
        expected = module.colour(logits, regression, 0.35, 0.8)[0].permute(1, 2, 0).numpy()
    colour = HeadRuntime(state).colour(tokens, grey, 0.35, 0.8)
    assert colour.shape == expected.shape == (20, 28, 2)
    assert np.abs(colour - expected).max() < 1e-3 * max(1.0, np.abs(expected).max())
    assert expected.std() > 1.0  # a colour that varies, so the comparison means something

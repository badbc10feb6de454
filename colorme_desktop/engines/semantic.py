"""The automatic colour prior on frozen DINOv2 features: what colour things usually are.

A few hundred training photos cannot teach a network what objects are, but DINOv2 already
knows (sky, grass, brick, each fruit in a bowl).  So the backbone stays frozen and only a
small head learns colour: the patch tokens give *what* a region is, a shallow convolution
of the grey image gives *where* its edges and tones are.  The head works at 1/8 of the
input; the engine brings its chroma to full resolution guided by the grey image.

Its outputs are those of ``network.ColorNet``: logits over Cb/Cr bins and a regression,
combined by ``colour`` (annealed mean blended with the regression), as ``ColorNet.colour`` does.  Several
heads trained apart can be shipped together (``HeadEnsemble``): each learns its few hundred
photos by heart in its own way, and their average is less wrong on photos none of them saw.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorme_desktop.engines.chroma_bins import CHROMA_RANGE, NUM_BINS, bin_centres
from colorme_desktop.engines.dinov2 import WIDTH
from colorme_desktop.engines.numpy_nets import (  # noqa: F401 - the sizes' home is torch-free, for the app
    INPUT_SIDE,
    MEMBER_PREFIX,
    OUTPUT_STRIDE,
    HeadRuntime,
    backbone_size,
    split_members,
)


class SemanticColorHead(nn.Module):
    """Tokens (B, 384, h, w) + grey (B, 1, 14h, 14w) in 0..255 -> logits, regression at 1/8."""

    def __init__(self, token_width: int = 128, width: int = 64, dropout: float = 0.5) -> None:
        super().__init__()
        self.tokens_in = nn.Sequential(nn.Conv2d(WIDTH, token_width, 1), nn.GELU(),
                                       nn.Conv2d(token_width, token_width, 3, padding=1), nn.GELU(),
                                       nn.Dropout2d(dropout))
        self.grey_in = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                                     nn.Conv2d(16, 24, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                                     nn.Conv2d(24, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.fuse = nn.Sequential(nn.Conv2d(token_width + 32, width, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, width, 1), nn.ReLU(inplace=True))
        self.logits = nn.Conv2d(width, NUM_BINS, 1)
        self.regress = nn.Conv2d(width, 2, 1)
        self.register_buffer("centres", torch.from_numpy(bin_centres()), persistent=False)

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> SemanticColorHead:
        """A head shaped to fit ``state``: the weights file is the one record of its size."""
        token_width = state["tokens_in.0.weight"].shape[0]
        width = state["fuse.0.weight"].shape[0]
        head = cls(token_width, width)
        head.load_state_dict({k: v.float() for k, v in state.items()})
        return head

    def forward(self, tokens: torch.Tensor, grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        edges = self.grey_in((grey - 127.5) / 127.5)
        context = F.interpolate(self.tokens_in(tokens.float()), size=edges.shape[-2:], mode="bilinear",
                                align_corners=False)
        y = self.fuse(torch.cat([context, edges], dim=1))
        return self.logits(y), torch.tanh(self.regress(y)) * CHROMA_RANGE

    def colour(self, logits: torch.Tensor, regression: torch.Tensor, temperature: float, blend: float
               ) -> torch.Tensor:
        """Annealed mean of the bins blended with the regression, (B, 2, h, w).

        A temperature below 1 sharpens the distribution toward its likeliest colours, which
        keeps colours vivid where the plain mean would average them toward brown.
        """
        probs = torch.softmax(logits.float() / temperature, dim=1)
        annealed = torch.einsum("bkhw,kc->bchw", probs, self.centres)
        return blend * annealed + (1.0 - blend) * regression.float()


class HeadEnsemble(nn.Module):
    """Heads trained apart, used as one: their bin probabilities and regressions averaged.

    The outputs are those of one head (log-probabilities serve as logits), so ``colour``
    and every caller stay the same.  On validation the four best heads of session 3's GPU
    run scored 21.36 dB together against 21.25 for the best alone; session 11 added three
    heads trained with token dropout (21.39 dB together; model card).
    """

    def __init__(self, members: list[SemanticColorHead]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, tokens: torch.Tensor, grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = [member(tokens, grey) for member in self.members]
        log_probs = torch.stack([torch.log_softmax(logits.float(), dim=1) for logits, _ in outputs])
        mean_probs = torch.logsumexp(log_probs, dim=0) - math.log(len(outputs))
        return mean_probs, torch.stack([regression.float() for _, regression in outputs]).mean(dim=0)

    def colour(self, logits: torch.Tensor, regression: torch.Tensor, temperature: float, blend: float
               ) -> torch.Tensor:
        return self.members[0].colour(logits, regression, temperature, blend)


def head_from_state(state: dict[str, torch.Tensor]) -> SemanticColorHead | HeadEnsemble:
    """One head, or an ensemble if the weights are prefixed by member: sizes come from the file."""
    if not any(key.startswith(MEMBER_PREFIX) for key in state):
        return SemanticColorHead.from_state(state)
    return HeadEnsemble([SemanticColorHead.from_state(member) for member in split_members(state)])


def ensemble_state(members: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The weights file's contents for an ensemble of these heads' states."""
    return {f"{MEMBER_PREFIX}{i}.{key}": value for i, state in enumerate(members) for key, value in state.items()}


def numpy_state(module: nn.Module) -> dict[str, np.ndarray]:
    """A module's weights as float32 numpy arrays, the form ``numpy_nets`` runs them in."""
    return {name: value.detach().cpu().float().numpy() for name, value in module.state_dict().items()}


def head_runtime(head: SemanticColorHead | HeadEnsemble) -> HeadRuntime:
    """A trained head as the app runs it (numpy), from the weights it would be saved with."""
    if isinstance(head, HeadEnsemble):
        return HeadRuntime(ensemble_state([numpy_state(member) for member in head.members]))
    return HeadRuntime(numpy_state(head))

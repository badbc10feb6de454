"""Synthetic user hints for training, vectorised over a batch (runs on CPU or GPU).

Follows the design we grew from, extended for strokes and for the hint counts that the
evaluation and real users produce: the number of hints per sample is geometric, positions
mix a normal around the centre with uniform ones, each hint's colour is the
Gaussian-weighted (sigma 2 px) mean of the true colour around it, some samples get no
hints (automatic mode) and some reveal the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class HintConfig:
    # Hints per sample ~ Geometric(p), mean 1/p.  The original used 0.10; we lower it so
    # that 50-hint images (users who keep painting, and the evaluation) are common enough.
    geometric_p: float = 0.05
    max_hints: int = 100
    no_hint_share: float = 0.15  # automatic mode
    reveal_all_share: float = 0.05
    uniform_share: float = 0.5  # the rest are normal around the centre
    centre_sigma: float = 0.25  # of the image side
    max_radius: int = 3  # hints are discs of radius 0..max_radius px
    stroke_share: float = 0.25
    stroke_points: int = 6
    stroke_max_length: float = 40.0  # px
    colour_sigma: float = 2.0


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-x * x / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    c = image.shape[1]
    image = F.pad(image, (radius, radius, radius, radius), mode="replicate")
    image = F.conv2d(image, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(image, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def simulate_hints(chroma: torch.Tensor, config: HintConfig, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (hint_chroma (B,2,H,W), hint_mask (B,1,H,W)) for true chroma (B,2,H,W)."""
    b, _, h, w = chroma.shape
    device = chroma.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=device)

    n = config.max_hints
    s = config.stroke_points
    # How many hints each sample gets.
    u = rand(b).clamp_min(1e-7)
    counts = torch.floor(torch.log(u) / torch.log(torch.tensor(1.0 - config.geometric_p))).long() + 1
    counts = counts.clamp(max=n)
    mode = rand(b)
    counts[mode < config.no_hint_share] = 0
    reveal = mode > 1.0 - config.reveal_all_share
    # Start of each hint.
    uniform = rand(b, n, 2) * torch.tensor([w - 1, h - 1], device=device)
    normal = (torch.randn(b, n, 2, generator=generator, device=device) * config.centre_sigma + 0.5)
    normal = normal * torch.tensor([w - 1, h - 1], device=device)
    start = torch.where(rand(b, n, 1) < config.uniform_share, uniform, normal)
    # Strokes: a straight-ish path of s points; points are s copies of the start.
    is_stroke = rand(b, n, 1, 1) < config.stroke_share
    angle = rand(b, n, 1) * 6.2832
    length = rand(b, n, 1) * config.stroke_max_length
    direction = torch.cat([torch.cos(angle), torch.sin(angle)], dim=-1)
    steps = torch.linspace(0, 1, s, device=device).view(1, 1, s, 1)
    path = start[:, :, None, :] + steps * (length * direction)[:, :, None, :] * is_stroke
    limits = torch.tensor([w - 1, h - 1], device=device, dtype=path.dtype)
    path = torch.minimum(path.clamp_min(0), limits).round().long()  # (b, n, s, 2)
    # Colour: Gaussian-weighted mean of the truth around each path point, averaged.
    blurred = gaussian_blur(chroma, config.colour_sigma)
    flat = blurred.permute(0, 2, 3, 1).reshape(b, h * w, 2)
    index = (path[..., 1] * w + path[..., 0]).view(b, n * s)
    colours = torch.gather(flat, 1, index[..., None].expand(-1, -1, 2)).view(b, n, s, 2).mean(dim=2)
    # Rasterise each path point as a disc of the hint's radius by scattering offsets.
    r = config.max_radius
    offsets = torch.stack(torch.meshgrid(torch.arange(-r, r + 1, device=device),
                                         torch.arange(-r, r + 1, device=device), indexing="xy"), -1).view(-1, 2)
    radius = (rand(b, n) * (r + 1)).floor()
    dist2 = (offsets * offsets).sum(-1).float()  # (k,)
    inside = dist2.view(1, 1, 1, -1) <= (radius * radius + radius).view(b, n, 1, 1)
    pix = path[:, :, :, None, :] + offsets.view(1, 1, 1, -1, 2)  # (b, n, s, k, 2)
    valid = inside & (pix[..., 0] >= 0) & (pix[..., 0] < w) & (pix[..., 1] >= 0) & (pix[..., 1] < h)
    used = torch.arange(n, device=device).view(1, n) < counts.view(b, 1)
    valid = valid & used.view(b, n, 1, 1)
    batch_index = torch.arange(b, device=device).view(b, 1, 1, 1).expand_as(valid)
    flat_index = (batch_index * h * w + pix[..., 1].clamp(0, h - 1) * w + pix[..., 0].clamp(0, w - 1))[valid]
    colour_per_pixel = colours[:, :, None, None, :].expand(b, n, s, offsets.shape[0], 2)[valid]
    mask = torch.zeros(b * h * w, device=device, dtype=chroma.dtype)
    hint = torch.zeros(b * h * w, 2, device=device, dtype=chroma.dtype)
    mask[flat_index] = 1.0
    hint[flat_index] = colour_per_pixel.to(chroma.dtype)
    mask = mask.view(b, 1, h, w)
    hint = hint.view(b, h, w, 2).permute(0, 3, 1, 2)
    mask = torch.where(reveal.view(b, 1, 1, 1), torch.ones_like(mask), mask)
    hint = torch.where(reveal.view(b, 1, 1, 1), chroma, hint)
    return hint.contiguous(), mask.contiguous()

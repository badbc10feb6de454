"""Random training crops from a set of photos, done as one batched warp (CPU or GPU).

Photos of different sizes are padded onto one canvas; each sample picks a photo, a
square crop of 30-100 % of its short side, a small rotation and shear and a flip, and
``grid_sample`` cuts all crops of a batch at once.  The crop is kept inside the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    min_crop: float = 0.3  # of the short side
    max_crop: float = 1.0
    max_rotation_deg: float = 10.0
    max_shear: float = 0.1


class PhotoBank:
    """All training photos on one device as a padded uint8 canvas stack."""

    def __init__(self, photos: list[np.ndarray], device: torch.device) -> None:
        side = max(max(p.shape[:2]) for p in photos)
        canvas = np.zeros((len(photos), side, side, 3), dtype=np.uint8)
        sizes = np.zeros((len(photos), 2), dtype=np.float32)
        for i, photo in enumerate(photos):
            h, w = photo.shape[:2]
            canvas[i, :h, :w] = photo
            sizes[i] = (w, h)
        self.canvas = torch.from_numpy(canvas).permute(0, 3, 1, 2).contiguous().to(device)
        self.sizes = torch.from_numpy(sizes).to(device)
        self.side = side

    def __len__(self) -> int:
        return self.canvas.shape[0]

    def sample(self, batch: int, size: int, config: AugmentConfig,
               generator: torch.Generator | None = None, with_photos: bool = False
               ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Return (batch, 3, size, size) float RGB in 0..255 (and each crop's photo index, if asked)."""
        device = self.canvas.device

        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator, device=device)

        pick = torch.randint(len(self), (batch,), generator=generator, device=device)
        wh = self.sizes[pick]  # (b, 2)
        short = wh.min(dim=1).values
        angle = (rand(batch) * 2 - 1) * np.deg2rad(config.max_rotation_deg)
        shear = (rand(batch) * 2 - 1) * config.max_shear
        # The rotated, sheared square must fit: shrink the allowed crop by its extent.
        extent = torch.cos(angle).abs() + torch.sin(angle).abs() + shear.abs()
        crop = short * (config.min_crop + rand(batch) * (config.max_crop - config.min_crop)) / extent
        half = crop * extent / 2
        centre_x = half + rand(batch) * (wh[:, 0] - 2 * half).clamp_min(0)
        centre_y = half + rand(batch) * (wh[:, 1] - 2 * half).clamp_min(0)
        flip = torch.where(rand(batch) < 0.5, -1.0, 1.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # Output coords (u, v) in [-1, 1] -> photo pixels: centre + crop/2 * R S F (u, v).
        a = crop / 2
        m00, m01 = cos * flip, -sin + cos * shear
        m10, m11 = sin * flip, cos + sin * shear
        scale = 2.0 / self.side  # photo pixels -> canvas normalised coordinates
        theta = torch.stack([
            torch.stack([a * m00 * scale, a * m01 * scale, centre_x * scale - 1], dim=1),
            torch.stack([a * m10 * scale, a * m11 * scale, centre_y * scale - 1], dim=1),
        ], dim=1)
        grid = F.affine_grid(theta, (batch, 3, size, size), align_corners=False)
        images = self.canvas[pick].float()
        crops = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return (crops, pick) if with_photos else crops

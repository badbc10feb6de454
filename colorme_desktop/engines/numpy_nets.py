"""The semantic engine's two networks, run in numpy: the app never imports torch.

Importing torch costs about 470 MB of memory and 1.5 s (5 s when nothing is in the disk
cache) before the first colour, for two forward passes a photo that numpy does as fast.
The torch modules (``dinov2.Dinov2Small``, ``semantic.SemanticColorHead``) stay the
definitions that training uses; these classes run the same weights, read from the same
safetensors files, and ``tests/engines/test_numpy_nets.py`` proves both give the same
numbers.  Only inference is here: no dropout, no gradients, one image at a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from colorme_desktop.engines.chroma_bins import CHROMA_RANGE, bin_centres

# The backbone's shape (DINOv2 ViT-S/14); ``dinov2.py`` holds the same for torch.
WIDTH = 384
DEPTH = 12
HEADS = 6
PATCH = 14
POS_GRID = 37  # the position embedding is stored for a 518 px (37 x 37 patch) input
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LAYERNORM_EPS = 1e-6
MEMBER_PREFIX = "member"  # an ensemble's weights file holds "member<i>.<name>" for each head
OUTPUT_STRIDE = 8  # the colour head works at 1/8 of the backbone's input
INPUT_SIDE = 224  # the backbone runs at this long side (16 patches): about 0.2 s on 2 cores


def backbone_size(shape: tuple[int, int], side: int = INPUT_SIDE) -> tuple[int, int]:
    """(width, height) for the backbone: long side ``side``, both multiples of the patch.

    Also for a panorama, unlike the working size (``color.working_fit``): a 6:1 photo at
    three times the input got five rows of finer tokens, and the pixel graph's feature term
    then cut a flat wall along a token's edge (session 17, looked at).
    """
    h, w = shape
    scale = side / max(h, w)
    return (max(PATCH, int(round(w * scale / PATCH)) * PATCH), max(PATCH, int(round(h * scale / PATCH)) * PATCH))


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU, as torch's default, with erf by Abramowitz & Stegun 7.1.26
    (error below 1.5e-7): scipy.special alone takes 0.3 s to import.

    Written in place: the polynomial's dozen passes over a 177 x 1536 activation cost more
    in fresh arrays than in arithmetic.  |x| / sqrt(2) is clipped at 6, where erf is 1 to
    float precision, because exp(-z * z) of larger activations underflows into subnormal
    numbers, which made this three times slower.
    """
    z = np.abs(x) * np.float32(1.0 / math.sqrt(2.0))
    np.minimum(z, 6.0, out=z)
    square = z * z
    np.negative(square, out=square)
    np.exp(square, out=square)  # exp(-z^2)
    t = z
    t *= 0.3275911
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * 1.061405429
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += c
        poly *= t
    poly *= square  # 1 - erf(|x| / sqrt 2)
    # 0.5 x (1 + erf(x / sqrt 2)) = max(x, 0) - 0.5 |x| (1 - erf(|x| / sqrt 2)) for either sign of x.
    poly *= np.abs(x)
    poly *= -0.5
    poly += np.maximum(x, 0.0)
    return poly


def layer_norm(x: np.ndarray, weight: np.ndarray | None = None, bias: np.ndarray | None = None,
               eps: float = LAYERNORM_EPS) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    out = centred / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)
    return out if weight is None else out * weight + bias


def _cubic(t: np.ndarray, a: float = -0.75) -> list[np.ndarray]:
    """Keys' cubic convolution weights of the four taps around a sample at fraction ``t``."""
    def near(d):
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def resize_matrix(size_in: int, size_out: int, mode: str) -> np.ndarray:
    """(size_out, size_in) matrix of torch's ``interpolate(mode, align_corners=False)`` along one axis.

    Half-pixel centres; taps beyond the edge repeat the edge pixel; bilinear clamps a
    sample left of the first centre to it, bicubic does not (both as torch does).
    """
    matrix = np.zeros((size_out, size_in), dtype=np.float64)
    source = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
    if mode == "bilinear":
        source = np.maximum(source, 0.0)
        left = np.floor(source).astype(int)
        t = source - left
        taps, weights = [left, left + 1], [1 - t, t]
    elif mode == "bicubic":
        left = np.floor(source).astype(int)
        taps, weights = [left - 1, left, left + 1, left + 2], _cubic(source - left)
    else:
        raise ValueError(f"unknown mode {mode}")
    rows = np.arange(size_out)
    for tap, weight in zip(taps, weights):
        np.add.at(matrix, (rows, np.clip(tap, 0, size_in - 1)), weight)
    return matrix.astype(np.float32)


def resize(x: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """(C, H, W) -> (C, *size) as torch's ``interpolate`` with ``align_corners=False``."""
    rows = resize_matrix(x.shape[1], size[0], mode)
    cols = resize_matrix(x.shape[2], size[1], mode)
    return np.einsum("ih,chw,jw->cij", rows, x, cols, optimize=True)


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """(C, H, W) convolved with (O, C, k, k) weights -> (O, H', W'), as ``nn.Conv2d``."""
    out_channels, channels, k, _ = weight.shape
    if k == 1 and stride == 1 and padding == 0:
        return np.tensordot(weight.reshape(out_channels, channels), x, axes=1) + bias[:, None, None]
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    return np.tensordot(weight, windows, axes=([1, 2, 3], [0, 3, 4])) + bias[:, None, None]


def as_float32(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


class Dinov2Runtime:
    """DINOv2 ViT-S/14 in inference, from ``Dinov2Small``'s weights (its ``state_dict`` names)."""

    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        s = as_float32(state)
        self.patch_weight = s["patch_embed.weight"].reshape(WIDTH, -1).T.copy()  # (3 * 14 * 14, 384)
        self.patch_bias = s["patch_embed.bias"]
        self.cls = (s["cls_token"] + s["pos_cls"]).reshape(1, WIDTH)
        self.pos_grid = s["pos_grid"].reshape(POS_GRID, POS_GRID, WIDTH).transpose(2, 0, 1)
        self.blocks = [{name: s[f"blocks.{i}.{name}"] for name in (
            "norm1.weight", "norm1.bias", "qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "scale1",
            "norm2.weight", "norm2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "scale2")}
            for i in range(DEPTH)]
        for block in self.blocks:  # (out, in) as torch stores them -> (in, out) for x @ w
            for name in ("qkv.weight", "proj.weight", "fc1.weight", "fc2.weight"):
                block[name] = np.ascontiguousarray(block[name].T)
        self.norm = (s["norm.weight"], s["norm.bias"])
        self._positions: dict[tuple[int, int], np.ndarray] = {}
        self.tokens(np.zeros((PATCH, PATCH), np.float32))  # weights of the wrong shape fail here, not on a photo

    def position(self, rows: int, cols: int) -> np.ndarray:
        """The stored 37 x 37 embedding resized to the input's grid (bicubic, as the ONNX graph)."""
        if (rows, cols) not in self._positions:
            grid = self.pos_grid
            if (rows, cols) != (POS_GRID, POS_GRID):
                grid = resize(grid, (rows, cols), "bicubic")
            self._positions[(rows, cols)] = grid.reshape(WIDTH, -1).T.copy()
        return self._positions[(rows, cols)]

    @staticmethod
    def _block(x: np.ndarray, b: dict[str, np.ndarray]) -> np.ndarray:
        n = x.shape[0]
        qkv = (layer_norm(x, b["norm1.weight"], b["norm1.bias"]) @ b["qkv.weight"] + b["qkv.bias"])
        q, k, v = qkv.reshape(n, 3, HEADS, WIDTH // HEADS).transpose(1, 2, 0, 3)
        scores = (q @ k.transpose(0, 2, 1)) * (1.0 / math.sqrt(WIDTH // HEADS))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attended = (scores / scores.sum(axis=-1, keepdims=True)) @ v  # (heads, n, 64)
        x = x + b["scale1"] * (attended.transpose(1, 0, 2).reshape(n, WIDTH) @ b["proj.weight"] + b["proj.bias"])
        hidden = gelu(layer_norm(x, b["norm2.weight"], b["norm2.bias"]) @ b["fc1.weight"] + b["fc1.bias"])
        return x + b["scale2"] * (hidden @ b["fc2.weight"] + b["fc2.bias"])

    def tokens(self, grey: np.ndarray, layer: int = DEPTH) -> np.ndarray:
        """Grey (H, W) in 0..255, sides multiples of 14 -> patch tokens (384, H/14, W/14).

        ``layer`` < 12 stops after that many blocks and normalises without the final
        norm's scale, which belongs to the last layer (``engines.reference`` matches so).
        """
        h, w = grey.shape
        rows, cols = h // PATCH, w // PATCH
        # The grey image as RGB, ImageNet-normalised: three channels differing only in scale.
        channels = np.stack([(grey.astype(np.float32) - 255.0 * m) / (255.0 * s)
                             for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)])
        patches = channels.reshape(3, rows, PATCH, cols, PATCH).transpose(1, 3, 0, 2, 4).reshape(rows * cols, -1)
        x = patches @ self.patch_weight + self.patch_bias + self.position(rows, cols)
        x = np.concatenate([self.cls, x]).astype(np.float32)
        for block in self.blocks[:layer]:
            x = self._block(x, block)
        # The inner layers' plain norm has torch's default epsilon, with which the reference
        # matching was tuned.
        x = layer_norm(x, *self.norm) if layer >= DEPTH else layer_norm(x, eps=1e-5)
        return np.ascontiguousarray(x[1:].T.reshape(WIDTH, rows, cols))


def split_members(state: Mapping[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """One head's weights, or each member's of an ensemble ("member<i>.<name>")."""
    if not any(key.startswith(MEMBER_PREFIX) for key in state):
        return [dict(state)]
    groups: dict[int, dict[str, np.ndarray]] = {}
    for key, value in state.items():
        member, _, name = key.partition(".")
        groups.setdefault(int(member.removeprefix(MEMBER_PREFIX)), {})[name] = value
    return [groups[i] for i in sorted(groups)]


class HeadRuntime:
    """``semantic.SemanticColorHead`` (or several as ``HeadEnsemble``) in inference."""

    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        self.members = [as_float32(member) for member in split_members(state)]
        self.centres = bin_centres()
        # Weights of the wrong shape fail here, not on a photo.
        self.colour(np.zeros((WIDTH, 2, 2), np.float32), np.zeros((16, 16), np.float32), 1.0, 1.0)

    @staticmethod
    def _member(m: dict[str, np.ndarray], tokens: np.ndarray, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        def conv(x, name, stride=1, padding=0):
            return conv2d(x, m[name + ".weight"], m[name + ".bias"], stride, padding)

        edges = ((grey.astype(np.float32) - 127.5) / 127.5)[None]
        for name in ("grey_in.0", "grey_in.2", "grey_in.4"):
            edges = np.maximum(conv(edges, name, stride=2, padding=1), 0.0)
        context = gelu(conv(gelu(conv(tokens.astype(np.float32), "tokens_in.0")), "tokens_in.2", padding=1))
        context = resize(context, edges.shape[1:], "bilinear")
        y = np.maximum(conv(np.concatenate([context, edges]), "fuse.0", padding=1), 0.0)
        y = np.maximum(conv(y, "fuse.2"), 0.0)
        return conv(y, "logits"), np.tanh(conv(y, "regress")) * CHROMA_RANGE

    def outputs(self, tokens: np.ndarray, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bins, h, w) log-probabilities averaged over members as probabilities, and (2, h, w) regression."""
        log_probs, regressions = [], []
        for member in self.members:
            logits, regression = self._member(member, tokens, grey)
            shifted = logits - logits.max(axis=0, keepdims=True)
            log_probs.append(shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True)))
            regressions.append(regression)
        stacked = np.stack(log_probs)
        top = stacked.max(axis=0)
        mean_log_prob = top + np.log(np.exp(stacked - top).mean(axis=0))
        return mean_log_prob, np.mean(regressions, axis=0)

    def colour(self, tokens: np.ndarray, grey: np.ndarray, temperature: float, blend: float) -> np.ndarray:
        """The automatic chroma (h, w, 2) at 1/8 of ``grey`` (``decode`` of ``outputs``)."""
        return self.decode(*self.outputs(tokens, grey), temperature, blend)

    def decode(self, log_probs: np.ndarray, regression: np.ndarray, temperature: float, blend: float
               ) -> np.ndarray:
        """The bins' annealed mean blended with the regression, (h, w, 2), as
        ``SemanticColorHead.colour``.  A temperature below 1 keeps colours vivid where the
        plain mean would average them toward brown."""
        scaled = log_probs / temperature
        probs = np.exp(scaled - scaled.max(axis=0, keepdims=True))
        probs /= probs.sum(axis=0, keepdims=True)
        annealed = np.tensordot(probs, self.centres, axes=([0], [0]))  # (h, w, 2)
        return (blend * annealed + (1.0 - blend) * regression.transpose(1, 2, 0)).astype(np.float32)

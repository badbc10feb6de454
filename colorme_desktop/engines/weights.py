"""Loading trained weights safely: safetensors only (never pickle), SHA-256 checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from colorme_desktop.engines.base import EngineError, WeightsNotShippedError

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
MANIFEST = "weights.json"
BACKBONE_FILE = "dinov2_vits14.safetensors"  # DINOv2 ViT-S/14, exported by training.export_backbone
HEAD_FILE = "colorme_head.safetensors"  # the semantic engine's colour head(s)


def weights_dir() -> Path:
    """The checkout's weights folder (the app is installed in editable mode from it)."""
    return WEIGHTS_DIR


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict:
    """The manifest, checked to be {"files": {name: {"sha256": hex, ...}}} so that a damaged
    one gives one clear line (and the fallback engine) rather than a traceback."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EngineError(f"No trained weights found ({path} is missing).") from None
    except (OSError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200] if not isinstance(exc, RecursionError) else "nested too deeply"
        raise EngineError(f"The weights manifest {path} is unreadable: {reason}") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise EngineError(f"The weights manifest {path} is damaged: it has no 'files' object.")
    for name, entry in files.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise EngineError(f"The weights manifest {path} is damaged: the entry for {name} has no 'sha256'.")
    return manifest


def load_checked(folder: Path, name: str) -> tuple[dict, dict]:
    """Return (arrays, manifest entry) for weights file ``name`` after checking its hash.

    numpy arrays, so that the app's default engine runs without importing torch;
    ``torch.from_numpy`` makes tensors of them without a copy."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    manifest = read_manifest(folder)
    entry = manifest["files"].get(name)
    if entry is None:
        raise WeightsNotShippedError(f"{name} is not listed in {folder / MANIFEST}.")
    path = folder / name
    if not path.exists():
        raise EngineError(f"The weights file {path} is missing.")
    actual = sha256_of(path)
    if actual != entry.get("sha256"):
        raise EngineError(f"The weights file {path.name} is damaged or was replaced "
                          f"(its SHA-256 does not match {MANIFEST}).")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise EngineError(f"The weights file {path.name} cannot be read: {exc}") from exc
    return tensors, entry

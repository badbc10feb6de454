"""Turn a training run's checkpoint into the shipped weights and record it in weights.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from colorme_desktop.engines.neural import WEIGHTS_FILE, InferenceSettings, load_settings
from colorme_desktop.engines.weights import MANIFEST, sha256_of, weights_dir
from colorme_desktop.training.train import MODEL_FILE


def export(run: Path, folder: Path, settings: InferenceSettings, provenance: dict) -> Path:
    tensors = load_file(str(run / MODEL_FILE))
    # float16 halves the download; the engine computes in float32.
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / WEIGHTS_FILE
    save_file(half, str(target))
    update_manifest(folder, settings, provenance)
    return target


def update_manifest(folder: Path, settings: InferenceSettings, provenance: dict | None = None) -> None:
    path = folder / MANIFEST
    manifest = json.loads(path.read_text()) if path.exists() else {"files": {}}
    entry = manifest["files"].get(WEIGHTS_FILE, {})
    entry["sha256"] = sha256_of(folder / WEIGHTS_FILE)
    entry["inference"] = settings.__dict__.copy()
    if provenance:
        entry["provenance"] = provenance
    manifest["files"][WEIGHTS_FILE] = entry
    path.write_text(json.dumps(manifest, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path, help="training run folder")
    parser.add_argument("--weights", type=Path, default=weights_dir())
    parser.add_argument("--settings", type=Path,
                        help="JSON of tuned inference settings (what training.tune prints); "
                             "default: keep those already in the manifest")
    args = parser.parse_args()
    summary = json.loads((args.run / "summary.json").read_text())
    # Never write made-up values over tuned ones: the manifest is their only home.
    if args.settings:
        settings = InferenceSettings(**json.loads(args.settings.read_text()))
    else:
        settings = load_settings(args.weights)
    export(args.run, args.weights, settings, {"training": summary})


if __name__ == "__main__":
    main()

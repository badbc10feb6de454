"""Ship several trained heads as one (``engines.semantic.HeadEnsemble``) if that wins on validation.

    python -m colorme_desktop.training.ensemble_heads HEAD.safetensors HEAD.safetensors [...]

(the heads shipped so far are named in the model card and in ``weights.json``'s provenance.)
With ``--add-to-shipped`` the heads join the shipped ensemble's members instead of
replacing them (session 11: three heads of its GPU runs joined session 3's four).

Each head, and their average, is scored on every validation photo without hints, with the
inference settings already shipped (``weights.json``); the ensemble replaces the shipped
head only if it scores higher than the shipped head.  The test split is never looked at.
Each member's own training record (the ``summary.json`` beside it) goes into the manifest.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from colorme_desktop.engines.semantic import HeadEnsemble, ensemble_state, head_runtime
from colorme_desktop.engines.semantic_engine import HEAD_FILE, SemanticEngine, SemanticSettings, load_backbone
from colorme_desktop.engines.weights import MANIFEST, sha256_of, weights_dir
from colorme_desktop.training.evaluate import list_photos
from colorme_desktop.training.gather import DEFAULT_CACHE
from colorme_desktop.training.tune_semantic import read_head, score_automatic

log = logging.getLogger(__name__)


def member_record(path: Path) -> dict:
    """What the training run wrote about this checkpoint, if it kept a summary."""
    summary = path.parent / "summary.json"
    record = {"checkpoint": f"{path.parent.name}/{path.name}"}
    if summary.exists():
        data = json.loads(summary.read_text())
        record["chosen"] = data.get("checkpoints", {}).get(path.name)
        record["run"] = {key: value for key, value in data.get("run", {}).items() if key != "variants"}
        variant = (record["chosen"] or {}).get("variant")
        record["variant"] = next((v for v in data.get("run", {}).get("variants", []) if v["name"] == variant), None)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("heads", type=Path, nargs="+", help="head checkpoints (safetensors) to average")
    parser.add_argument("--val", type=Path, default=DEFAULT_CACHE / "val")
    parser.add_argument("--max-side", type=int, default=384)
    parser.add_argument("--weights", type=Path, default=weights_dir())
    parser.add_argument("--add-to-shipped", action="store_true",
                        help="keep the shipped ensemble's members and add these heads to them")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(2)
    if len(args.heads) < 2 and not args.add_to_shipped:
        parser.error("an ensemble needs at least two heads")
    manifest_path = args.weights / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["files"][HEAD_FILE]
    settings = SemanticSettings.from_manifest(entry)
    photos = list_photos(args.val)
    backbone = load_backbone(args.weights)

    def score(head) -> dict:
        db, share = score_automatic(SemanticEngine(backbone, head_runtime(head), settings), photos, args.max_side)
        return {"psnr_auto": round(db, 3), "colourfulness_share": round(share, 3)}

    members = [read_head(path) for path in args.heads]
    scores = {path.name: score(head) for path, head in zip(args.heads, members)}
    shipped_head = read_head(args.weights / HEAD_FILE)
    shipped = score(shipped_head)
    states = [{k: v.half().contiguous() for k, v in load_file(str(path)).items()} for path in args.heads]
    records = [member_record(path) for path in args.heads]
    if args.add_to_shipped:
        kept = list(shipped_head.members) if isinstance(shipped_head, HeadEnsemble) else [shipped_head]
        members = kept + members
        states = [{k: v.half().contiguous() for k, v in head.state_dict().items()} for head in kept] + states
        previous = entry.get("provenance") or {}
        records = previous.get("ensemble", [previous]) + records
        if len(records) != len(members):
            raise SystemExit(f"the shipped head's provenance names {len(records) - len(args.heads)} members, "
                             f"its file holds {len(kept)}: not writing a manifest that would misname them")
    together = score(HeadEnsemble(members))
    log.info("members %s; shipped %s; ensemble %s", scores, shipped, together)
    if together["psnr_auto"] <= shipped["psnr_auto"]:
        log.info("the ensemble does not beat the shipped head on validation: nothing written")
        return
    target = args.weights / HEAD_FILE
    save_file(ensemble_state(states), str(target))
    target.chmod(0o644)
    entry["sha256"] = sha256_of(target)
    entry["provenance"] = {
        "ensemble": records,
        "validation": {"photos": len(photos), "max_side": args.max_side,
                       ("added" if args.add_to_shipped else "members"): scores,
                       "previous_head": shipped, "ensemble": together},
        "previous": entry.get("provenance"),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    log.info("wrote %s (%d heads)", target, len(members))


if __name__ == "__main__":
    main()

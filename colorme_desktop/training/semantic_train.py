"""Train the colour head on frozen DINOv2 features, on this 2-core CPU or a GPU.

Two steps, both resumable:

    python -m colorme_desktop.training.semantic_train cache --out RUN_DIR [--crops 8]
    python -m colorme_desktop.training.semantic_train train --out RUN_DIR --minutes 40

``cache`` cuts random augmented crops from the training split of the gathered photos
(``training.gather``), runs the frozen backbone on each once and stores its tokens, the
grey crop and the target chroma (``RUN_DIR/cache/part-N.npz``).  Because the backbone
never changes, ``train`` then touches only the small head: thousands of steps an hour
on two cores instead of the few hundred a full network would get.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

from colorme_desktop.core.color import resize_to_max_side
from colorme_desktop.engines.chroma_bins import CHROMA_RANGE
from colorme_desktop.engines.dinov2 import Dinov2Small
from colorme_desktop.engines.semantic import OUTPUT_STRIDE, SemanticColorHead
from colorme_desktop.training.augment import AugmentConfig, PhotoBank
from colorme_desktop.training.gather import DEFAULT_CACHE
from colorme_desktop.training.train import lr_factor, soft_bin_targets, split_luma_chroma

log = logging.getLogger(__name__)

HEAD_FILE = "head.safetensors"
STATE_FILE = "state.pt"
CROP_SIDE = 224
PHOTO_MAX_SIDE = 640


@dataclass
class HeadConfig:
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05  # few photos: a strong pull toward small weights generalises better
    warmup_steps: int = 100
    minutes: float = 40.0
    max_steps: int = 1_000_000
    regression_weight: float = 10.0
    # Share of token channels dropped on the way into the head: on a GPU it kept heads from
    # learning the photos by heart (session 11, model card); on this CPU's cached crops 0.3
    # measured within the noise between checkpoints (session 12), so the default stays 0.
    token_dropout: float = 0.0
    seed: int = 0
    checkpoint_seconds: float = 60.0
    log_every: int = 25


# ------------------------------------------------------------------ feature cache

def load_split(cache: Path, split: str, max_side: int = PHOTO_MAX_SIDE) -> list[np.ndarray]:
    """The gathered photos of one split as RGB arrays (long side at most ``max_side``)."""
    manifest = json.loads((cache / "manifest.json").read_text())
    return [resize_to_max_side(np.asarray(Image.open(cache / "photos" / e["file"]).convert("RGB")), max_side)
            for e in manifest["photos"] if e["split"] == split]


def cache_features(photos: list[np.ndarray], folder: Path, crops_per_photo: int, backbone: Dinov2Small,
                   chunk: int = 256, seed: int = 0) -> None:
    """Write crops' tokens, grey and target chroma in parts of ``chunk``; skips parts done."""
    folder.mkdir(parents=True, exist_ok=True)
    bank = PhotoBank(photos, torch.device("cpu"))
    total = len(photos) * crops_per_photo
    config = AugmentConfig(min_crop=0.35)
    for part, start in enumerate(range(0, total, chunk)):
        path = folder / f"part-{part:03d}.npz"
        if path.exists():
            continue
        generator = torch.Generator().manual_seed(seed * 100_003 + part)
        count = min(chunk, total - start)
        tokens, greys, targets = [], [], []
        with torch.inference_mode():
            for i in range(0, count, 16):
                rgb = bank.sample(min(16, count - i), CROP_SIDE, config, generator)
                grey, chroma = split_luma_chroma(rgb)
                tokens.append(backbone.features(grey).half())
                greys.append(grey.round().clamp(0, 255).to(torch.uint8))
                targets.append(F.avg_pool2d(chroma, OUTPUT_STRIDE).half())
        tmp = path.with_suffix(".part.npz")
        np.savez(tmp, tokens=torch.cat(tokens).numpy(), grey=torch.cat(greys).numpy(),
                 target=torch.cat(targets).numpy())
        os.replace(tmp, path)
        log.info("cached %s (%d crops)", path.name, count)


def load_cache(folder: Path) -> dict[str, torch.Tensor]:
    parts = sorted(folder.glob("part-*.npz"))
    if not parts:
        raise FileNotFoundError(f"no cached features in {folder}")
    arrays: dict[str, list[np.ndarray]] = {"tokens": [], "grey": [], "target": []}
    for part in parts:
        with np.load(part) as data:
            for key in arrays:
                arrays[key].append(data[key])
    return {key: torch.from_numpy(np.concatenate(value)) for key, value in arrays.items()}


# ------------------------------------------------------------------ training

def head_loss(head: SemanticColorHead, tokens: torch.Tensor, grey: torch.Tensor, target: torch.Tensor,
              regression_weight: float, token_dropout: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy over the chroma bins plus the weighted regression error; with
    ``token_dropout``, that share of the token channels is dropped whole on the way in."""
    if token_dropout:
        tokens = F.dropout2d(tokens, token_dropout)
    logits, regression = head(tokens, grey)
    target = F.interpolate(target, size=logits.shape[-2:], mode="bilinear", align_corners=False) \
        if target.shape[-2:] != logits.shape[-2:] else target
    ce = -(soft_bin_targets(target) * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()
    mse = F.mse_loss(regression.float() / CHROMA_RANGE, target / CHROMA_RANGE)
    return ce + regression_weight * mse, {"ce": float(ce.detach()), "mse": float(mse.detach())}


def random_batch(data: dict[str, torch.Tensor], batch: int, generator: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    pick = torch.randint(len(data["grey"]), (batch,), generator=generator)
    tokens, grey, target = data["tokens"][pick].float(), data["grey"][pick].float(), data["target"][pick].float()
    # A mirrored photo is as likely as the photo: flip grey, target and the token grid
    # together (the backbone is nearly mirror-symmetric, so its tokens mirror too).
    flip = torch.rand(batch, generator=generator) < 0.5
    tokens[flip], grey[flip], target[flip] = tokens[flip].flip(-1), grey[flip].flip(-1), target[flip].flip(-1)
    return tokens, grey, target


def save_checkpoint(out: Path, head: SemanticColorHead, optimizer: torch.optim.Optimizer, step: int,
                    elapsed: float, config: HeadConfig) -> None:
    state = {k: v.detach().float().contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(out / (HEAD_FILE + ".part")), metadata={"step": str(step),
                                                                 "config": json.dumps(asdict(config))})
    os.replace(out / (HEAD_FILE + ".part"), out / HEAD_FILE)
    # Optimizer moments for a resume on this machine (trusted: we wrote it ourselves).
    torch.save({"optimizer": optimizer.state_dict(), "step": step, "elapsed": elapsed}, out / (STATE_FILE + ".part"))
    os.replace(out / (STATE_FILE + ".part"), out / STATE_FILE)


def train_head(data: dict[str, torch.Tensor], out: Path, config: HeadConfig) -> dict:
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    head = SemanticColorHead()
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step, elapsed_before = 0, 0.0
    out.mkdir(parents=True, exist_ok=True)
    if (out / HEAD_FILE).exists() and (out / STATE_FILE).exists():
        head.load_state_dict(load_file(str(out / HEAD_FILE)))
        state = torch.load(out / STATE_FILE, weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed_before = int(state["step"]), float(state["elapsed"])
        log.info("resumed at step %d (%.0f s trained)", step, elapsed_before)
    head.train()
    started = last_checkpoint = time.time()
    history = []
    while True:
        elapsed = elapsed_before + time.time() - started
        progress = max(step / config.max_steps, elapsed / (config.minutes * 60.0))
        if progress >= 1.0:
            break
        for group in optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(progress, step, config.warmup_steps)
        tokens, grey, target = random_batch(data, config.batch, generator)
        loss, parts = head_loss(head, tokens, grey, target, config.regression_weight, config.token_dropout)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 5.0)
        optimizer.step()
        step += 1
        if step % config.log_every == 0:
            row = {"step": step, "seconds": round(elapsed, 1), "loss": round(float(loss.detach()), 4),
                   **{k: round(v, 5) for k, v in parts.items()}, "lr": optimizer.param_groups[0]["lr"]}
            history.append(row)
            log.info("%s", row)
            with open(out / "log.jsonl", "a") as handle:
                handle.write(json.dumps(row) + "\n")
        if time.time() - last_checkpoint > config.checkpoint_seconds:
            save_checkpoint(out, head, optimizer, step, elapsed, config)
            # Numbered copies let validation pick the step to ship (early stopping).
            shutil.copy(out / HEAD_FILE, out / f"head-step{step:06d}.safetensors")
            last_checkpoint = time.time()
    elapsed = elapsed_before + time.time() - started
    save_checkpoint(out, head, optimizer, step, elapsed, config)
    summary = {"steps": step, "seconds": round(elapsed, 1), "samples": step * config.batch,
               "crops": len(data["grey"]), "device": "cpu", "final": history[-1] if history else None}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("cache", "train"))
    parser.add_argument("--out", type=Path, required=True, help="run folder: feature cache, checkpoints, logs")
    parser.add_argument("--data", type=Path, default=DEFAULT_CACHE, help="folder written by training.gather")
    parser.add_argument("--weights", type=Path, default=None,
                        help="folder with the DINOv2 weights and weights.json (default: the shipped weights/)")
    parser.add_argument("--crops", type=int, default=8, help="crops cached per training photo")
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--token-dropout", type=float, default=HeadConfig.token_dropout,
                        help="share of token channels dropped in training")
    parser.add_argument("--checkpoint-seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.step == "cache":
        from colorme_desktop.engines.dinov2 import load_backbone_module

        backbone = load_backbone_module(args.weights)  # hash-checked, the same file the app runs
        cache_features(load_split(args.data, "train"), args.out / "cache", args.crops, backbone)
    else:
        config = replace(HeadConfig(), minutes=args.minutes, max_steps=args.max_steps, batch=args.batch, lr=args.lr,
                         checkpoint_seconds=args.checkpoint_seconds, token_dropout=args.token_dropout)
        train_head(load_cache(args.out / "cache"), args.out, config)


if __name__ == "__main__":
    main()

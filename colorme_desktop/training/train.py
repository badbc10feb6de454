"""Train the colorization network; resumable, CPU or GPU, and unchanged under torchrun.

    python -m colorme_desktop.training.train --data PACKED_DIR --out RUN_DIR --minutes 30

``PACKED_DIR`` is what ``colorme_desktop.training.pack`` wrote.  Under
``torchrun --nproc_per_node=N`` each process trains on its own random batches and
DistributedDataParallel averages the gradients (gloo on CPU, NCCL on GPU).  The
learning-rate schedule follows the fraction of the step or time budget already spent,
so a run cut short by its time limit still ends with a low learning rate.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from colorme_desktop.core.color import CB_FROM_RGB, CR_FROM_RGB, LUMA_WEIGHTS, RGB_PER_CB, RGB_PER_CR
from colorme_desktop.engines.chroma_bins import BINS_PER_AXIS, CHROMA_RANGE
from colorme_desktop.engines.network import ColorNet
from colorme_desktop.engines.neural import pick_device
from colorme_desktop.training.augment import AugmentConfig, PhotoBank
from colorme_desktop.training.hintsim import HintConfig, simulate_hints
from colorme_desktop.training.pack import BACKBONE_FILE, load_packed

log = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
STATE_FILE = "state.pt"


@dataclass
class TrainConfig:
    size: int = 256
    batch: int = 16
    lr: float = 1e-3
    backbone_lr: float = 2e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    max_steps: int = 1_000_000
    minutes: float = 30.0
    regression_weight: float = 10.0
    seed: int = 0
    checkpoint_seconds: float = 60.0
    log_every: int = 50
    hints: HintConfig = field(default_factory=HintConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


# ------------------------------------------------------------------ colour in torch

def split_luma_chroma(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,3,H,W) RGB 0..255 -> grey (B,1,H,W) and chroma (B,2,H,W), BT.601 as in core.color."""
    weights = torch.tensor([LUMA_WEIGHTS, CB_FROM_RGB, CR_FROM_RGB], dtype=rgb.dtype, device=rgb.device)
    out = torch.einsum("kc,bchw->bkhw", weights, rgb)
    return out[:, 0:1], out[:, 1:3]


def compose_rgb(grey: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    per_unit = torch.tensor([RGB_PER_CB, RGB_PER_CR], dtype=chroma.dtype, device=chroma.device)  # (2, 3)
    rgb = grey + torch.einsum("kc,bkhw->bchw", per_unit, chroma)
    return rgb.clamp(0, 255)


def soft_bin_targets(chroma: torch.Tensor) -> torch.Tensor:
    """Bilinear split of each chroma value over its four nearest bins: (B, K, h, w)."""
    step = 2 * CHROMA_RANGE / BINS_PER_AXIS
    pos = ((chroma + CHROMA_RANGE) / step - 0.5).clamp(0, BINS_PER_AXIS - 1 - 1e-4)
    low = pos.floor()
    frac = pos - low
    low = low.long()
    b, _, h, w = chroma.shape
    target = chroma.new_zeros(b, BINS_PER_AXIS * BINS_PER_AXIS, h, w)
    for dcb, wcb in ((0, 1 - frac[:, 0]), (1, frac[:, 0])):
        for dcr, wcr in ((0, 1 - frac[:, 1]), (1, frac[:, 1])):
            index = (low[:, 0] + dcb) * BINS_PER_AXIS + (low[:, 1] + dcr)
            target.scatter_add_(1, index[:, None], (wcb * wcr)[:, None])
    return target


def make_batch(bank: PhotoBank, config: TrainConfig, generator: torch.Generator | None
               ) -> tuple[torch.Tensor, ...]:
    """A batch of (grey, chroma, hint_chroma, hint_mask), all float32."""
    rgb = bank.sample(config.batch, config.size, config.augment, generator)
    grey, chroma = split_luma_chroma(rgb)
    hint_chroma, hint_mask = simulate_hints(chroma, config.hints, generator)
    return grey, chroma, hint_chroma, hint_mask


def training_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...], config: TrainConfig
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    grey, chroma, hint_chroma, hint_mask = batch
    logits, regression = model(grey, hint_chroma, hint_mask)
    target = F.avg_pool2d(chroma, 4)
    ce = -(soft_bin_targets(target) * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()
    mse = F.mse_loss(regression.float() / CHROMA_RANGE, target / CHROMA_RANGE)
    loss = ce + config.regression_weight * mse
    return loss, {"ce": ce.detach(), "mse": mse.detach()}


# ------------------------------------------------------------------ model set-up

def build_model(data_dir: Path | None, device: torch.device) -> ColorNet:
    model = ColorNet()
    backbone = data_dir / BACKBONE_FILE if data_dir else None
    if backbone and backbone.exists():
        model.backbone.load_state_dict({k: v.float() for k, v in load_file(str(backbone)).items()})
    else:
        log.warning("no pretrained backbone at %s: training from scratch", backbone)
    return model.to(device)


def lr_factor(progress: float, step: int, warmup: int) -> float:
    warm = min(1.0, (step + 1) / max(1, warmup))
    return warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def save_checkpoint(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int,
                    elapsed: float, config: TrainConfig) -> None:
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = out / (MODEL_FILE + ".part")
    save_file(state, str(tmp), metadata={"step": str(step), "config": json.dumps(asdict(config))})
    os.replace(tmp, out / MODEL_FILE)
    # Optimizer moments for a resume on this machine (trusted: we wrote it ourselves).
    torch.save({"optimizer": optimizer.state_dict(), "step": step, "elapsed": elapsed}, out / (STATE_FILE + ".part"))
    os.replace(out / (STATE_FILE + ".part"), out / STATE_FILE)


# ------------------------------------------------------------------ the loop

def train(data_dir: Path, out: Path, config: TrainConfig, device_name: str = "auto",
          init_from: Path | None = None, photos: list[np.ndarray] | None = None) -> dict:
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = pick_device(device_name)
    rank = 0
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
        if device.type == "cuda":
            torch.cuda.set_device(device)
    torch.manual_seed(config.seed + rank)
    generator = torch.Generator(device=device)
    generator.manual_seed(config.seed * 1000 + rank)
    if photos is None:
        photos = load_packed(data_dir / "photos.npz", "train")
    bank = PhotoBank(photos, device)
    model = build_model(data_dir, device)
    resume = out / MODEL_FILE
    start_from = resume if resume.exists() else init_from
    if start_from is not None and start_from.exists():
        model.load_state_dict(load_file(str(start_from)))
        log.info("weights from %s", start_from)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    backbone_params = list(model.backbone.parameters())
    backbone_ids = {id(p) for p in backbone_params}
    other_params = [p for p in model.parameters() if id(p) not in backbone_ids]
    optimizer = torch.optim.AdamW([{"params": backbone_params, "lr": config.backbone_lr},
                                   {"params": other_params, "lr": config.lr}],
                                  weight_decay=config.weight_decay)
    base_lrs = [config.backbone_lr, config.lr]
    step, elapsed_before = 0, 0.0
    if resume.exists() and (out / STATE_FILE).exists():
        state = torch.load(out / STATE_FILE, map_location=device, weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed_before = int(state["step"]), float(state["elapsed"])
        log.info("resumed at step %d (%.0f s trained)", step, elapsed_before)
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    net.train()
    budget = config.minutes * 60.0
    started = time.time()
    last_checkpoint = started
    history: list[dict] = []
    log_file = (out / "log.jsonl") if rank == 0 else None
    if log_file:
        out.mkdir(parents=True, exist_ok=True)
    use_amp = device.type == "cuda"
    while True:
        elapsed = elapsed_before + time.time() - started
        progress = max(step / config.max_steps, elapsed / budget)
        stop = torch.tensor([1.0 if progress >= 1.0 else 0.0], device=device)
        if distributed:  # everyone stops at the same step
            dist.all_reduce(stop, op=dist.ReduceOp.MAX)
        if stop.item() > 0:
            break
        factor = lr_factor(progress, step, config.warmup_steps)
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base * factor
        batch = make_batch(bank, config, generator)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss, parts = training_loss(net, batch, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        step += 1
        if rank == 0 and step % config.log_every == 0:
            row = {"step": step, "seconds": round(elapsed, 1), "loss": round(float(loss.detach()), 4),
                   **{k: round(float(v), 5) for k, v in parts.items()}, "lr": base_lrs[1] * factor}
            history.append(row)
            log.info("%s", row)
            with open(log_file, "a") as handle:
                handle.write(json.dumps(row) + "\n")
        if rank == 0 and time.time() - last_checkpoint > config.checkpoint_seconds:
            save_checkpoint(out, model, optimizer, step, elapsed, config)
            last_checkpoint = time.time()
    elapsed = elapsed_before + time.time() - started
    if rank == 0:
        save_checkpoint(out, model, optimizer, step, elapsed, config)
        summary = {"steps": step, "seconds": round(elapsed, 1), "samples": step * config.batch
                   * (dist.get_world_size() if distributed else 1), "device": str(device),
                   "final": history[-1] if history else None}
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return {"steps": step, "history": history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder written by training.pack")
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoints and logs")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--backbone-lr", type=float, default=2e-4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--init-from", type=Path, help="start from these weights (new optimizer)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: torch default)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = replace(TrainConfig(), minutes=args.minutes, max_steps=args.max_steps, batch=args.batch,
                     size=args.size, lr=args.lr, backbone_lr=args.backbone_lr)
    train(args.data, args.out, config, args.device, args.init_from)


if __name__ == "__main__":
    main()

"""Train colour heads with the frozen backbone run on every batch: the GPU path.

    python -m colorme_desktop.training.semantic_online pack --out runs/online/photos.npz
    python -m colorme_desktop.training.semantic_online train --pack runs/online/photos.npz \\
        --out RUN_DIR --minutes 6

``semantic_train`` caches the backbone's tokens for a few thousand crops because a 2-core
CPU cannot afford the backbone on every step; the head then sees the same crops again
and again and overfits within minutes.  On a GPU the backbone costs little, so here every
step cuts fresh crops (scale, position, rotation, mirror) and the head never sees the
same tokens twice.  Several head variants train side by side on the same batches (the
backbone runs once for all of them), and every ``--eval-seconds`` each is scored on the
validation photos, so early stopping and the choice of variant use validation only.

``pack`` stores the training photos (downscaled, JPEG) and the validation photos in one
small file, so that they travel to a GPU machine that cannot read this one's cache.
The checkpoints are ordinary head files: ``tune_semantic RUN_DIR`` picks and ships one.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

from colorme_desktop.core.metrics import colourfulness, psnr
from colorme_desktop.engines.neural import pick_device
from colorme_desktop.engines.semantic import INPUT_SIDE, SemanticColorHead, backbone_size
from colorme_desktop.training.augment import AugmentConfig, PhotoBank
from colorme_desktop.training.gather import DEFAULT_CACHE
from colorme_desktop.training.semantic_train import CROP_SIDE, head_loss, load_split
from colorme_desktop.training.train import compose_rgb, lr_factor, split_luma_chroma

log = logging.getLogger(__name__)

# Colour settings the in-training validation reports; tune_semantic later searches properly.
EVAL_COLOURS = ((1.0, 0.0), (0.6, 0.5), (0.35, 1.0), (0.6, 1.0))  # (temperature, blend); 0.35/1 ships
KEEP_BEST = 3  # states kept per variant, by validation gain: tune_semantic chooses among them


@dataclass(frozen=True)
class Variant:
    """One head trained in the run: its size and its regularisation."""

    name: str
    token_width: int = 128
    width: int = 64
    dropout: float = 0.5
    lr: float = 1e-3
    weight_decay: float = 0.05
    regression_weight: float = 10.0
    # Regularisers for a few hundred photos (session 11): drop whole token channels on the
    # way in, so that no head leans on a few of DINOv2's 384 features; and let each seed of
    # an ensemble see only its own share of the photos (bagging), so that the members learn
    # different photos by heart and their average is less wrong.  The seed, not the
    # variant, picks the share and the starting weights: two variants with the same seed
    # differ by their settings alone (a paired comparison).
    token_dropout: float = 0.0
    photo_share: float = 1.0
    seed: int = 0


VARIANTS = {
    "base": Variant("base"),
    "wide": Variant("wide", token_width=256, width=128),
    "reg": Variant("reg", regression_weight=40.0),
    "small": Variant("small", token_width=64, width=48, dropout=0.3),
    # A first GPU run peaked on validation after ~100k crops and then overfitted: slower
    # learning and a stronger pull toward small weights, judged on the averaged weights.
    "reg-slow": Variant("reg-slow", regression_weight=40.0, lr=3e-4),
    "base-slow": Variant("base-slow", lr=3e-4),
    "reg-decay": Variant("reg-decay", regression_weight=40.0, weight_decay=0.5),
    "reg-decay-slow": Variant("reg-decay-slow", regression_weight=40.0, weight_decay=0.5, lr=3e-4),
    "drop-slow": Variant("drop-slow", lr=3e-4, token_dropout=0.3),
    "drop-reg-decay-slow": Variant("drop-reg-decay-slow", regression_weight=40.0, weight_decay=0.5, lr=3e-4,
                                   token_dropout=0.3),
    # Session 11's first run: token dropout 0.3 kept the heads from falling after their peak;
    # with weight decay they still gained at the end. Half the channels dropped, tried next.
    "drop5-slow": Variant("drop5-slow", lr=3e-4, token_dropout=0.5),
    "drop5-reg-decay-slow": Variant("drop5-reg-decay-slow", regression_weight=40.0, weight_decay=0.5, lr=3e-4,
                                    token_dropout=0.5),
}
EMA_DECAY = 0.998  # validation scores the running average of the weights: steadier than the last step


# ------------------------------------------------------------------ packing

def _encode(photo: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG", quality=quality)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def pack(data: Path, out: Path, train_side: int, quality: int) -> None:
    """Training photos at ``train_side`` and validation photos at the backbone's size, one npz."""
    arrays = {}
    for split, side in (("train", train_side), ("val", INPUT_SIDE)):
        photos = load_split(data, split, max_side=side)
        for i, photo in enumerate(photos):
            arrays[f"{split}/{i:05d}"] = _encode(photo, quality if split == "train" else 95)
        log.info("%s: %d photos", split, len(photos))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    log.info("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)


def unpack(path: Path) -> dict[str, list[np.ndarray]]:
    photos: dict[str, list[np.ndarray]] = {"train": [], "val": []}
    with np.load(path) as data:
        for key in sorted(data.files):
            split = key.split("/")[0]
            photos[split].append(np.asarray(Image.open(io.BytesIO(data[key].tobytes())).convert("RGB")))
    return photos


# ------------------------------------------------------------------ validation

def replicas(variants: list[Variant], seeds: int, photo_share: float, first_seed: int = 1) -> list[Variant]:
    """Each variant ``seeds`` times (named NAME-sK), seed K seeing its own ``photo_share`` of the photos."""
    if seeds <= 1 and photo_share >= 1.0 and first_seed == 1:
        return variants
    return [replace(v, name=f"{v.name}-s{k}", seed=k, photo_share=photo_share)
            for v in variants for k in range(first_seed, first_seed + max(1, seeds))]


def photo_bags(variants: list[Variant], photos: int, device: torch.device) -> dict[str, torch.Tensor]:
    """For each variant, which photos it may learn from: a random ``photo_share`` of them, by its seed."""
    bags = {}
    for v in variants:
        generator = torch.Generator().manual_seed(1000 + v.seed)
        order = torch.randperm(photos, generator=generator)
        bag = torch.zeros(photos, dtype=torch.bool)
        bag[order[:max(1, round(v.photo_share * photos))]] = True
        bags[v.name] = bag.to(device)
    return bags


def _image(rgb: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float RGB -> (H, W, 3) uint8, as a saved result would be."""
    return rgb[0].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class Validation:
    """Validation photos at the backbone's size, their tokens computed once."""

    def __init__(self, photos: list[np.ndarray], backbone: torch.nn.Module, device: torch.device) -> None:
        self.items = []
        with torch.no_grad():
            for photo in photos:
                w, h = backbone_size(photo.shape[:2])
                rgb = torch.from_numpy(np.array(Image.fromarray(photo).resize((w, h), Image.BICUBIC)))
                rgb = rgb.permute(2, 0, 1)[None].float().to(device)
                grey, _ = split_luma_chroma(rgb)
                self.items.append((backbone.features(grey), grey, rgb))
        self.grey_psnr = float(np.mean([psnr(_image(grey.expand_as(rgb)), _image(rgb)) for _, grey, rgb in self.items]))
        self.truth_colourfulness = float(np.mean([colourfulness(_image(rgb)) for _, _, rgb in self.items]))

    @torch.no_grad()
    def score(self, head: SemanticColorHead) -> dict[str, float]:
        head.eval()
        totals = {f"T{t}_b{b}": [] for t, b in EVAL_COLOURS}
        colour = {key: [] for key in totals}
        for tokens, grey, rgb in self.items:
            logits, regression = head(tokens, grey)
            for (t, b), key in zip(EVAL_COLOURS, totals):
                chroma = head.colour(logits, regression, t, b)
                chroma = F.interpolate(chroma, size=grey.shape[-2:], mode="bilinear", align_corners=False)
                result = _image(compose_rgb(grey, chroma))
                totals[key].append(psnr(result, _image(rgb)))
                colour[key].append(colourfulness(result))
        head.train()
        row = {f"gain_{k}": round(float(np.mean(v)) - self.grey_psnr, 4) for k, v in totals.items()}
        row.update({f"colour_{k}": round(float(np.mean(v)) / self.truth_colourfulness, 3) for k, v in colour.items()})
        return row


# ------------------------------------------------------------------ training

def train(pack_path: Path, out: Path, variants: list[Variant], minutes: float, batch: int,
          eval_seconds: float, device: torch.device, seed: int = 0) -> None:
    from colorme_desktop.engines.dinov2 import load_backbone_module

    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    photos = unpack(pack_path)
    backbone = load_backbone_module().to(device)
    bank = PhotoBank(photos["train"], device)
    validation = Validation(photos["val"], backbone, device)
    log.info("%d training photos, %d validation photos (grey %.2f dB) on %s",
             len(bank), len(validation.items), validation.grey_psnr, device)
    heads = {}
    for v in variants:
        torch.manual_seed(seed + v.seed)  # a seed's own initial weights (shared by variants of one size)
        heads[v.name] = SemanticColorHead(v.token_width, v.width, v.dropout).to(device).train()
    bags = photo_bags(variants, len(bank), device)
    averages = {name: copy.deepcopy(head).eval().requires_grad_(False) for name, head in heads.items()}
    optimizers = {v.name: torch.optim.AdamW(heads[v.name].parameters(), lr=v.lr, weight_decay=v.weight_decay)
                  for v in variants}
    # Crops near the whole photo, as the app sees it, with some zoom for variety.
    config = AugmentConfig(min_crop=0.5)
    generator = torch.Generator(device=device).manual_seed(seed)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    started = last_eval = time.time()
    step, samples = 0, 0
    kept: dict[str, list] = {v.name: [] for v in variants}
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    (out / "variants.json").write_text(json.dumps({"device": device_name, "batch": batch, "minutes": minutes,
                                                   "ema_decay": EMA_DECAY, "min_crop": config.min_crop,
                                                   "variants": [asdict(v) for v in variants]}, indent=1))
    while True:
        progress = (time.time() - started) / (minutes * 60.0)
        if progress >= 1.0:
            break
        rgb, picked = bank.sample(batch, CROP_SIDE, config, generator, with_photos=True)
        grey, chroma = split_luma_chroma(rgb)
        with torch.no_grad(), autocast:
            tokens = backbone.features(grey).float()
        target = F.avg_pool2d(chroma, 8)
        parts = {}
        for variant in variants:
            head, optimizer = heads[variant.name], optimizers[variant.name]
            for group in optimizer.param_groups:
                group["lr"] = variant.lr * lr_factor(progress, step, 200)
            mine = bags[variant.name][picked]
            if not bool(mine.any()):
                continue
            loss, parts[variant.name] = head_loss(head, tokens[mine], grey[mine], target[mine],
                                                  variant.regression_weight, variant.token_dropout)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), 5.0)
            optimizer.step()
            with torch.no_grad():
                for average, current in zip(averages[variant.name].parameters(), head.parameters()):
                    average.lerp_(current, 1.0 - EMA_DECAY)
        step += 1
        samples += batch
        if time.time() - last_eval > eval_seconds:
            _checkpoint(out, averages, validation, step, samples, time.time() - started, parts, kept)
            last_eval = time.time()
    _checkpoint(out, averages, validation, step, samples, time.time() - started, parts, kept)


def _checkpoint(out: Path, heads: dict[str, SemanticColorHead], validation: Validation, step: int, samples: int,
                seconds: float, parts: dict, kept: dict[str, list]) -> None:
    """Score every head on validation; keep each variant's best few states in one file.

    One file per variant (not one per checkpoint): a GPU machine returns only a few files.
    """
    for name, head in heads.items():
        scores = validation.score(head)
        row = {"variant": name, "step": step, "samples": samples, "seconds": round(seconds, 1),
               **{k: round(v, 5) for k, v in parts.get(name, {}).items()}, **scores}
        log.info("%s", row)
        with open(out / "log.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")
        best_gain = max(v for k, v in scores.items() if k.startswith("gain_"))
        state = {k: v.detach().half().cpu().contiguous() for k, v in head.state_dict().items()}
        kept[name] = sorted(kept[name] + [(best_gain, step, state)], key=lambda item: -item[0])[:KEEP_BEST]
        bundle = {f"step{s:06d}/{k}": v for _, s, st in kept[name] for k, v in st.items()}
        tmp = out / f"bundle-{name}.part"
        save_file(bundle, str(tmp), metadata={"gains": json.dumps({s: g for g, s, _ in kept[name]})})
        tmp.replace(out / f"bundle-{name}.safetensors")


def unbundle(run: Path) -> list[Path]:
    """Write each kept state of each variant as an ordinary head file, for tune_semantic.

    ``summary.json`` records the run and each file's validation row, for the model card.
    """
    rows = {(r["variant"], r["step"]): r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())}
    summary = {"run": json.loads((run / "variants.json").read_text()), "checkpoints": {}}
    written = []
    for bundle in sorted(run.glob("bundle-*.safetensors")):
        variant = bundle.stem.removeprefix("bundle-")
        states: dict[str, dict] = {}
        for key, value in load_file(str(bundle)).items():
            step, name = key.split("/", 1)
            states.setdefault(step, {})[name] = value
        for step, state in states.items():
            path = run / f"head-{variant}-{step}.safetensors"
            save_file(state, str(path))
            written.append(path)
            summary["checkpoints"][path.name] = rows.get((variant, int(step.removeprefix("step"))))
    (run / "summary.json").write_text(json.dumps(summary, indent=1))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--side", type=int, default=304, help="training photos' long side")
    p.add_argument("--quality", type=int, default=85)
    t = sub.add_parser("train")
    t.add_argument("--pack", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--minutes", type=float, default=6.0)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--variants", default="base,wide,reg,small", help=f"some of {','.join(VARIANTS)}")
    t.add_argument("--eval-seconds", type=float, default=45.0)
    t.add_argument("--seeds", type=int, default=1, help="train each variant this many times, seeded apart")
    t.add_argument("--first-seed", type=int, default=1, help="seeds count from here (a second run: new seeds)")
    t.add_argument("--photo-share", type=float, default=1.0, help="share of the photos each seed sees")
    t.add_argument("--seed", type=int, default=0,
                   help="the run's random stream: its crops, and an offset to every seed's start")
    t.add_argument("--device", default="auto")
    u = sub.add_parser("unbundle", help="turn a run's bundles into head files for tune_semantic")
    u.add_argument("run", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.step == "pack":
        pack(args.data, args.out, args.side, args.quality)
    elif args.step == "unbundle":
        for path in unbundle(args.run):
            log.info("wrote %s", path)
    else:
        variants = replicas([VARIANTS[name] for name in args.variants.split(",")], args.seeds, args.photo_share,
                            args.first_seed)
        train(args.pack, args.out, variants, args.minutes, args.batch, args.eval_seconds, pick_device(args.device),
              args.seed)


if __name__ == "__main__":
    main()

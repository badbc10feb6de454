"""The trained network as an engine: automatic colour at once, hints followed exactly."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from colorme_desktop.core.color import fit_size
from colorme_desktop.core.hints import Hint, colour_hints, finish, rasterize
from colorme_desktop.engines.base import EngineError, WeightsNotShippedError, image_key
from colorme_desktop.engines.network import ColorNet
from colorme_desktop.engines.propagation import LruCache, Spreader, affinity_laplacian
from colorme_desktop.engines.weights import MANIFEST, load_checked, read_manifest, weights_dir

log = logging.getLogger(__name__)

WEIGHTS_FILE = "colorme_net.safetensors"


@dataclass(frozen=True)
class InferenceSettings:
    """How network outputs become colour.

    No defaults on purpose: the values are chosen on the validation split for one set of
    weights and live only in that weights' manifest entry (``weights.json`` →
    ``inference``, written by ``training.export``); a copy here could silently differ.
    """

    working_side: int
    temperature_auto: float  # annealed mean with no hints: lower is more vivid
    temperature_hints: float
    blend: float  # share of the annealed mean against the regression head, no hints
    blend_hints: float  # the same with hints
    refine_side: int  # where hints are made exact by spreading residuals
    refine_decay: float  # how fast one hint's correction fades (divided by N^2 for N hints)
    cast_prior_hints: float  # hints needed before a shared colour cast counts half
    levin_share_hints: float  # hints at which the pure hint propagation gets half the say


def settings_from_entry(entry: dict) -> InferenceSettings:
    """The settings of a manifest entry; unknown keys (from newer versions) are ignored."""
    return settings_from_manifest(entry.get("inference"))


def load_settings(folder: Path | None = None) -> InferenceSettings:
    """The inference settings recorded in ``folder``'s manifest, without loading weights."""
    folder = folder or weights_dir()
    entry = read_manifest(folder).get("files", {}).get(WEIGHTS_FILE)
    if entry is None:
        raise WeightsNotShippedError(f"{WEIGHTS_FILE} is not listed in {folder / MANIFEST}.")
    return settings_from_entry(entry)


# What each setting may be: (type, lowest, highest).  A working side beyond this range
# would take minutes or all memory; zero temperatures divide by zero.
_SETTING_RANGES: dict[str, tuple[type, float, float]] = {
    "working_side": (int, 32, 2048),
    "temperature_auto": (float, 0.01, 100.0),
    "temperature_hints": (float, 0.01, 100.0),
    "blend": (float, 0.0, 1.0),
    "blend_hints": (float, 0.0, 1.0),
    "refine_side": (int, 16, 1024),
    "refine_decay": (float, 0.0, 1.0),
    "cast_prior_hints": (float, 0.0, 1e12),
    "levin_share_hints": (float, 1e-6, 1e12),
}


def settings_from_manifest(inference: object) -> InferenceSettings:
    """Inference settings from weights.json, checked; unknown keys (from newer versions)
    are ignored, missing ones, wrong types or values raise EngineError."""
    if not isinstance(inference, dict):
        raise EngineError(f"'inference' in weights.json must be an object, not {type(inference).__name__}.")
    missing = [name for name in _SETTING_RANGES if name not in inference]
    if missing:
        raise EngineError(f"The weights manifest lacks the inference settings {', '.join(missing)}; "
                          "export the weights again.")
    values = {}
    for key, (kind, low, high) in _SETTING_RANGES.items():
        value = inference[key]
        ok_type = isinstance(value, int) if kind is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or not low <= value <= high:
            shown = repr(value) if len(repr(value)) <= 30 else repr(value)[:27] + "..."
            raise EngineError(f"weights.json sets {key} to {shown}; it must be "
                              f"{'a whole number' if kind is int else 'a number'} from {low:g} to {high:g}.")
        values[key] = kind(value)
    return InferenceSettings(**values)


def pick_device(name: str = "auto") -> torch.device:
    """``name`` itself, or for "auto" the best there is: the GPU of this process (a
    distributed training run sets LOCAL_RANK per process), Apple's, or the CPU.
    The one place that chooses, for the app and for training."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def network_size(shape: tuple[int, int], side: int) -> tuple[int, int]:
    """(width, height) with the long side ``side`` and both multiples of 32."""
    h, w = shape
    scale = side / max(h, w)
    return max(32, int(round(w * scale / 32)) * 32), max(32, int(round(h * scale / 32)) * 32)


def load_network(folder: Path | None = None) -> tuple[ColorNet, InferenceSettings]:
    folder = folder or weights_dir()
    # Settings first: a bad manifest is found without hashing and reading the weights.
    entry = read_manifest(folder)["files"].get(WEIGHTS_FILE)
    if entry is None:
        raise WeightsNotShippedError(f"{WEIGHTS_FILE} is not listed in {folder / MANIFEST}.")
    settings = settings_from_entry(entry)
    tensors, _ = load_checked(folder, WEIGHTS_FILE)
    model = ColorNet()
    try:
        model.load_state_dict({k: torch.from_numpy(v).float() for k, v in tensors.items()})
    except RuntimeError as exc:
        raise EngineError(f"{WEIGHTS_FILE} does not fit this version's network: "
                          f"{str(exc).splitlines()[0]}") from exc
    return model.eval(), settings


class NeuralEngine:
    # Chroma is upsampled bilinearly: measured on 12 validation photos, the network's chroma
    # came out alike either way (24.35 dB bilinear, 24.42 dB guided), and bilinear keeps the
    # detail that hints add (38.88 vs 35.98 dB upsampling true chroma 8x).
    name = "neural"
    description = "Trained network: automatic colour, refined by your hints."

    def __init__(self, model: ColorNet | None = None, settings: InferenceSettings | None = None,
                 device: torch.device | None = None) -> None:
        if model is None:
            model, loaded = load_network()
            settings = settings or loaded
        # A network built without weights (tests, benchmarks) runs with the shipped settings.
        self.settings = settings or load_settings()
        self.device = device or pick_device()
        self.model = model.to(self.device).eval()
        self._lock = threading.Lock()  # one forward at a time; torch modules are not re-entrant
        self._spreaders = LruCache()  # per refine-size grey: its graph and solver
        self._automatic = LruCache()  # per photo: its prediction without hints, for keep hints

    def predict(self, grey: np.ndarray, hints: Sequence[Hint], temperature: float | None = None
                ) -> np.ndarray:
        """Network chroma at network resolution / 4 for the image and hints."""
        s = self.settings
        h, w = grey.shape
        size = network_size(grey.shape, s.working_side)
        small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        chroma, mask = rasterize(hints, size, scale=size[0] / w)
        if temperature is None:
            temperature = s.temperature_hints if hints else s.temperature_auto
        with self._lock, torch.inference_mode():
            g = torch.from_numpy(small).float()[None, None].to(self.device)
            hc = torch.from_numpy(chroma).permute(2, 0, 1)[None].to(self.device)
            hm = torch.from_numpy(mask)[None, None].to(self.device)
            logits, regression = self.model(g, hc, hm)
            blend = s.blend_hints if hints else s.blend
            out = self.model.chroma(logits, regression, temperature, blend)
        return out[0].permute(1, 2, 0).cpu().numpy()

    def _spreader(self, grey_small: np.ndarray) -> Spreader:
        return self._spreaders.get(image_key(grey_small), lambda: Spreader(
            affinity_laplacian(grey_small, grey_cap=None), grey_small.shape[1]))  # uncapped: as tuned

    def colorize(self, grey: np.ndarray, hints: Sequence[Hint], draft: bool = False,
                 shown: np.ndarray | None = None) -> np.ndarray:
        # The network was trained on colour hints only; keep hints hold its colour without
        # hints afterwards (the colour hints move its prediction everywhere, kept pixels too).
        colours = colour_hints(hints)
        predicted = self.predict(grey, colours)
        if colours and not draft:
            # The network already follows the hints; making them exact is the slow part,
            # so a draft (while the user drags) skips it.
            automatic = None
            if len(colours) < len(hints):  # one network pass more per photo, not per stroke
                automatic = self._automatic.get(image_key(grey), lambda: self.predict(grey, ()))
            predicted = self._make_hints_exact(grey, hints, predicted, automatic)
        return finish(predicted, grey, hints, shown, edge_aware=False)

    def _make_hints_exact(self, grey: np.ndarray, hints: Sequence[Hint], predicted: np.ndarray,
                          automatic: np.ndarray | None = None) -> np.ndarray:
        """``automatic``: the prediction without hints, which keep hints hold (needed only with them)."""
        s = self.settings
        h, w = grey.shape
        size = fit_size(grey.shape, s.refine_side)
        small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if size != (w, h) else grey
        base = cv2.resize(predicted, size, interpolation=cv2.INTER_LINEAR)
        keep_at = None if automatic is None else cv2.resize(automatic, size, interpolation=cv2.INTER_LINEAR)
        # A brush stops at edges; a keep hint's pixels hold the colour without hints.
        hint_chroma, mask = rasterize(hints, size, scale=size[0] / w, grey=small, base=keep_at)
        residual = (hint_chroma - base) * mask[..., None]
        # What the hints agree on is a colour cast of the whole photo: shift everything by
        # their mean residual, shrunk toward zero when there are few hints to go on.  The
        # rest is corrected locally, fading away from each hint along the edges.
        hinted = mask > 0.5
        if not hinted.any():
            return base  # every hint fell outside the working-size canvas
        count = len(colour_hints(hints))
        shift = residual[hinted].mean(axis=0) * count / (count + s.cast_prior_hints)
        base = base + shift
        residual = (hint_chroma - base) * mask[..., None]
        # Few hints: keep each correction near its hint.  Many hints: they jointly describe
        # the whole photo, so let corrections reach as far as the edges allow (Levin's model).
        decay = s.refine_decay / count ** 2
        # One factorisation serves both: the corrections, and the hints' own colours
        # spread the classical way, which many hints describe better than any prior.
        both = np.concatenate([residual, hint_chroma * mask[..., None]], axis=-1)
        spread_out = self._spreader(small).spread(both, mask, decay)
        refined = base + spread_out[..., :2]
        trust_hints = count / (count + s.levin_share_hints)
        return (1.0 - trust_hints) * refined + trust_hints * spread_out[..., 2:]

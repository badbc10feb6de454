"""Spreading a hint's colour change to the pixels that belong with it, and no further.

A hint asks for a change of colour at one place.  The change should reach the rest of
the same object or material and stop at its boundary.  Grey levels alone cannot say
where that is (a red roof and a blue sky can have the same grey), so the pixel graph's
affinities multiply two similarities: grey levels of neighbours (Levin et al. 2004) and
their DINOv2 features (what the backbone thinks the pixel shows).  On that graph the
change is spread with a pull toward "no change" everywhere (``decay``), so it fades
away from the hint rather than tinting the photo; with many hints the pull is weaker
and the hints together describe the whole photo.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

NEIGHBOUR_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))  # each undirected 8-neighbour pair once


def feature_map(tokens: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(C, h, w) backbone tokens -> unit-length features (H, W, C) at ``size`` = (W, H)."""
    c = tokens.shape[0]
    planes = [cv2.resize(tokens[i].astype(np.float32), size, interpolation=cv2.INTER_LINEAR) for i in range(c)]
    features = np.stack(planes, axis=-1)
    return features / np.maximum(np.linalg.norm(features, axis=-1, keepdims=True), 1e-6)


def affinity_laplacian(grey: np.ndarray, features: np.ndarray | None = None, feature_softness: float = 0.1,
                       grey_floor: float = 2e-4, grey_cap: float | None = 0.01) -> sp.csr_matrix:
    """Graph Laplacian of the 8-connected pixel grid (symmetric weights).

    weight = exp(-dgrey^2 / local variance) * exp(-(1 - cos(features)) / feature_softness):
    neighbours are linked when they look alike and, given ``features``, show the same thing.
    ``grey_floor`` keeps flat regions connected.  ``grey_cap`` bounds the local variance:
    Levin's fully adaptive width lets a strong edge pass a few percent per link, enough for
    one hint to tint the other side of a wall; capped, a step of 50 grey levels stops it.
    """
    h, w = grey.shape
    g = grey.astype(np.float64) / 255.0
    y = g.reshape(-1)
    index = np.arange(h * w).reshape(h, w)
    mean = cv2.blur(g, (3, 3), borderType=cv2.BORDER_REFLECT)
    var = np.maximum(cv2.blur(g * g, (3, 3), borderType=cv2.BORDER_REFLECT) - mean * mean, 0.0)
    sigma2 = np.clip(var * 0.6, grey_floor, grey_cap if grey_cap is not None else np.inf).reshape(-1)
    flat = features.reshape(h * w, -1) if features is not None else None
    rows, cols, vals = [], [], []
    for dy, dx in NEIGHBOUR_OFFSETS:
        src = index[0:h - dy, max(0, -dx):w - max(0, dx)].reshape(-1)
        dst = index[dy:h, max(0, dx):w + min(0, dx)].reshape(-1)
        weight = np.exp(-(y[src] - y[dst]) ** 2 / (sigma2[src] + sigma2[dst]))
        if flat is not None:
            cosine = np.einsum("ij,ij->i", flat[src], flat[dst])
            weight *= np.exp(-(1.0 - cosine) / feature_softness)
        rows += [src, dst]
        cols += [dst, src]
        vals += [weight, weight]
    w_matrix = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(h * w, h * w))
    degree = np.asarray(w_matrix.sum(axis=1)).ravel()
    return (sp.diags(degree) - w_matrix).tocsr()


def spread(laplacian: sp.csr_matrix, values: np.ndarray, mask: np.ndarray, decay: float,
           target: np.ndarray | None = None) -> np.ndarray:
    """Spread ``values`` (H, W, C) from the pixels where ``mask`` > 0.5, fading by ``decay``.

    Minimises sum w_rs (x_r - x_s)^2 + decay * sum d_r (x_r - t_r)^2 with x fixed at the
    masked pixels (d_r is a pixel's total affinity, so the fade is the same in flat and
    busy regions).  Away from the hints x fades toward ``target`` (zero if not given):
    ``nonlocal_target`` makes that the change asked for at hints on the same kind of
    thing, which reaches an object's parts that no path of alike pixels connects.
    decay = 0 is Levin's model: a single hint then reaches every pixel it is connected
    to.  Solved directly: conjugate gradients needed hundreds of iterations at the small
    decays that measure best.
    """
    h, w = mask.shape
    fixed = mask.reshape(-1) > 0.5
    out = np.zeros((h * w, values.shape[-1]))
    if not fixed.any():
        return out.reshape(h, w, -1).astype(np.float32)
    flat = values.reshape(h * w, -1).astype(np.float64)
    free = np.flatnonzero(~fixed)
    hinted = np.flatnonzero(fixed)
    rows = laplacian[free]
    degree = laplacian.diagonal()[free]
    system = (rows[:, free] + sp.diags(decay * degree + 1e-9)).tocsc()
    rhs = -(rows[:, hinted] @ flat[hinted])
    if target is not None:
        rhs += (decay * degree)[:, None] * target.reshape(h * w, -1)[free]
    out[free] = splu(system, permc_spec="COLAMD").solve(rhs)
    out[hinted] = flat[hinted]
    return out.reshape(h, w, -1).astype(np.float32)


class LruCache:
    """The last ``size`` entries, the least recently used leaving first: the one policy for
    every per-photo cache of the engines (graphs, solvers, backbone outputs)."""

    def __init__(self, size: int = 4) -> None:
        self._entries: OrderedDict = OrderedDict()
        self._size = size

    def get(self, key, make: Callable[[], object]):
        if key not in self._entries:
            self._entries[key] = make()
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        return self._entries[key]


# Incremental solves (``Spreader``).  A stroke changes the system only where it fixes
# pixels (and the decay a little everywhere), so the factorisation of an earlier system
# preconditions the new one; an exact solve of the box around the change fixes what it
# gets wrong there.  Measured on the sample photo at 256 px: 3-5 steps, the chroma within
# 0.11 grey levels of the direct solve, about 250 ms against 500-600 ms to factorise anew
# on a busy 2-core machine.
LOCAL_MARGIN = 12  # working-size pixels around the changed ones that the local solve covers
LOCAL_MAX_SHARE = 0.25  # a change whose box is larger than this share of the photo: factorise anew
PCG_TOLERANCE = 1e-5  # relative residual per channel
PCG_MAX_STEPS = 30  # not converged by then (it takes 3-5): factorise anew


def _factorise(matrix: sp.spmatrix):
    """LU of a symmetric positive definite system: symmetric ordering, no pivoting (not needed)."""
    return splu(matrix.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                options={"SymmetricMode": True})


class Spreader:
    """``spread`` on one pixel graph, each solve starting from the work of the one before.

    The system is kept over every pixel, fixed ones as identity rows, so its shape never
    changes.  The newest factorisation (made again in a background thread after each
    incremental solve; SuperLU releases the GIL) preconditions conjugate gradients, started
    from the previous solution.  Only one thread may call ``spread`` at a time.
    """

    def __init__(self, laplacian: sp.csr_matrix, width: int) -> None:
        self._degree = laplacian.diagonal().copy()
        self._off = (laplacian - sp.diags(self._degree)).tocsr()  # -w_rs off the diagonal
        self._width = width
        self._lock = threading.Lock()  # guards _factor against the refresh thread
        self._factor: tuple | None = None  # (lu, fixed mask) of a system solved before
        self._refresh: threading.Thread | None = None
        self._last: np.ndarray | None = None  # the previous solution: where the next one starts

    def _system(self, fixed: np.ndarray, decay: float) -> sp.csr_matrix:
        keep = sp.diags((~fixed).astype(np.float64))
        diagonal = np.where(fixed, 1.0, self._degree * (1.0 + decay) + 1e-9)
        return (keep @ self._off @ keep + sp.diags(diagonal)).tocsr()

    def spread(self, values: np.ndarray, mask: np.ndarray, decay: float,
               target: np.ndarray | None = None) -> np.ndarray:
        """The same as ``propagation.spread`` (and within ``PCG_TOLERANCE`` of it)."""
        h, w = mask.shape
        fixed = mask.reshape(-1) > 0.5
        channels = values.shape[-1]
        if not fixed.any():
            return np.zeros((h, w, channels), dtype=np.float32)
        flat = values.reshape(h * w, -1).astype(np.float64)
        held = flat * fixed[:, None]
        rhs = -(self._off @ held)
        if target is not None:
            rhs += (decay * self._degree)[:, None] * target.reshape(h * w, -1)
        rhs[fixed] = flat[fixed]
        system = self._system(fixed, decay)
        with self._lock:
            factor = self._factor
        x = None
        if factor is not None and self._last is not None and self._last.shape == flat.shape:
            x = self._incremental(system, rhs, fixed, factor)
        if x is None:
            lu = _factorise(system)
            x = lu.solve(rhs)
            with self._lock:
                self._factor = (lu, fixed)
        self._last = x
        return x.reshape(h, w, channels).astype(np.float32)

    def _incremental(self, system, rhs, fixed, factor) -> np.ndarray | None:
        lu, factor_fixed = factor
        changed = np.flatnonzero(fixed != factor_fixed)
        n = fixed.size
        height = n // self._width
        if changed.size:
            rows, cols = np.divmod(changed, self._width)
            r0, r1 = max(0, rows.min() - LOCAL_MARGIN), min(height, rows.max() + LOCAL_MARGIN + 1)
            c0, c1 = max(0, cols.min() - LOCAL_MARGIN), min(self._width, cols.max() + LOCAL_MARGIN + 1)
            if (r1 - r0) * (c1 - c0) > LOCAL_MAX_SHARE * n:
                return None
            box = (np.arange(r0, r1)[:, None] * self._width + np.arange(c0, c1)[None, :]).ravel()
            local = _factorise(system[box][:, box])
        else:
            box = local = None

        def precondition(r: np.ndarray) -> np.ndarray:
            # Symmetric multiplicative Schwarz: the box exactly, the whole photo through the
            # older factorisation, the box again.
            z = np.zeros_like(r)
            if local is not None:
                z[box] = local.solve(r[box])
            z += lu.solve(r - system @ z)
            if local is not None:
                z[box] += local.solve((r - system @ z)[box])
            return z

        x = self._last.copy()
        x[fixed] = rhs[fixed]
        residual = rhs - system @ x
        goal = PCG_TOLERANCE * np.maximum(np.linalg.norm(rhs, axis=0), 1e-12)
        z = precondition(residual)
        direction = z.copy()
        rz = (residual * z).sum(axis=0)
        for _ in range(PCG_MAX_STEPS):
            if (np.linalg.norm(residual, axis=0) <= goal).all():
                self._refresh_factor(system, fixed)
                return x
            image = system @ direction
            alpha = rz / np.maximum((direction * image).sum(axis=0), 1e-300)
            x += alpha * direction
            residual -= alpha * image
            z = precondition(residual)
            rz_next = (residual * z).sum(axis=0)
            direction = z + (rz_next / np.maximum(rz, 1e-300)) * direction
            rz = rz_next
        return None

    def _refresh_factor(self, system: sp.csr_matrix, fixed: np.ndarray) -> None:
        """Factorise this system in the background, so the next stroke starts nearer."""
        if self._refresh is not None and self._refresh.is_alive():
            return

        def work() -> None:
            lu = _factorise(system)
            with self._lock:
                self._factor = (lu, fixed)

        self._refresh = threading.Thread(target=work, name="colorme-refactorise", daemon=True)
        self._refresh.start()


def nonlocal_target(tokens: np.ndarray, points: np.ndarray, changes: np.ndarray, size: tuple[int, int],
                    softness: float) -> np.ndarray:
    """The change each pixel would take from the hints on the same kind of thing.

    ``tokens`` (C, h, w) are the backbone's; ``points`` (K, 2) are hint positions as
    fractions of the width and height, ``changes`` (K, 2) the chroma change asked there.
    Each token weighs each hint by exp((cos - 1) / softness) of their features; the
    weighted mean change, shrunk where the total weight is below one, is brought to
    ``size`` = (W, H).  A token like no hint gets (almost) no change.
    """
    c, h, w = tokens.shape
    flat = tokens.reshape(c, -1).T.astype(np.float32)
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-6)
    cols = np.clip((points[:, 0] * w).astype(int), 0, w - 1)
    rows = np.clip((points[:, 1] * h).astype(int), 0, h - 1)
    at_hints = flat[rows * w + cols]
    weights = np.exp((flat @ at_hints.T - 1.0) / softness)  # (tokens, hints)
    total = weights.sum(axis=1, keepdims=True)
    mean = (weights @ changes) / np.maximum(total, 1.0)
    return cv2.resize(mean.reshape(h, w, 2).astype(np.float32), size, interpolation=cv2.INTER_LINEAR)

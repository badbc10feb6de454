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

import atexit
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from colorme_desktop.core.memory import release_freed_memory
from colorme_desktop.engines.base import DraftSupersededError, give_up_if

NEIGHBOUR_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))  # each undirected 8-neighbour pair once


# The photo's tokens are compared in their first principal components, around their mean:
# DINOv2's tokens share a large common part, so raw cosines between different things stay
# high and a link between sky and tree kept most of its weight.  32 components measured as
# 16 or 64 (16 validation photos, mean PSNR over 1-20 hints within 0.002 dB).
FEATURE_COMPONENTS = 32
# Token features are 14 input pixels wide; bilinear upsampling smears a change of object
# over that width, where each link sees only a sliver of it.  A guided filter on the grey
# photo (radius in working pixels, regularisation in grey 0-1 squared) moves the change to
# the grey edge inside that width, so the one link across the edge sees all of it.
FEATURE_GUIDE_RADIUS = 6
FEATURE_GUIDE_EPS = 1e-3


def _guided(features: np.ndarray, grey: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter of each feature channel, guided by ``grey`` (H, W) 0..255."""
    guide = grey.astype(np.float32) / 255.0
    size = (2 * radius + 1, 2 * radius + 1)

    def box(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_guide = box(guide)
    variance = box(guide * guide) - mean_guide * mean_guide
    mean_features = box(features)
    slope = (box(features * guide[..., None]) - mean_guide[..., None] * mean_features) / (variance[..., None] + eps)
    offset = mean_features - slope * mean_guide[..., None]
    return box(slope) * guide[..., None] + box(offset)


def token_components(tokens: np.ndarray) -> np.ndarray:
    """(C, h, w) backbone tokens -> (h, w, FEATURE_COMPONENTS): their principal components
    around the photo's mean token, what tells one thing in the photo from another."""
    c, h, w = tokens.shape
    flat = tokens.reshape(c, h * w).T.astype(np.float64)
    flat -= flat.mean(axis=0)
    _, _, axes = np.linalg.svd(flat, full_matrices=False)
    return (flat @ axes[:FEATURE_COMPONENTS].T).astype(np.float32).reshape(h, w, -1)


def feature_map(components: np.ndarray, size: tuple[int, int], grey: np.ndarray | None = None) -> np.ndarray:
    """(h, w, K) principal components of the tokens (``token_components``) -> unit-length
    features (H, W, K) at ``size`` = (W, H): upsampled, snapped to the edges of ``grey``
    (the photo at ``size``) when given."""
    features = np.empty((size[1], size[0], components.shape[-1]), dtype=np.float32)
    for i in range(components.shape[-1]):
        features[..., i] = cv2.resize(np.ascontiguousarray(components[..., i]), size, interpolation=cv2.INTER_LINEAR)
    if grey is not None:
        features = _guided(features, grey, FEATURE_GUIDE_RADIUS, FEATURE_GUIDE_EPS)
    features /= np.maximum(np.linalg.norm(features, axis=-1, keepdims=True), 1e-6)
    return features


# Chroma difference (grey levels) between neighbours of a colour photo at which their link
# keeps exp(-1/2) = 0.6 of its weight: JPEG noise within one surface (2-4 levels) keeps
# 88-97 %, two colours a person tells apart (15 levels) 17 %, 25 levels 0.8 %.
CHROMA_SOFTNESS = 8.0


def affinity_laplacian(grey: np.ndarray, features: np.ndarray | None = None, feature_softness: float = 0.1,
                       grey_floor: float = 2e-4, grey_cap: float | None = 0.01,
                       chroma: np.ndarray | None = None) -> sp.csr_matrix:
    """Graph Laplacian of the 8-connected pixel grid (symmetric weights).

    weight = exp(-dgrey^2 / local variance) * exp(-(1 - cos(features)) / feature_softness):
    neighbours are linked when they look alike and, given ``features``, show the same thing.
    ``grey_floor`` keeps flat regions connected.  ``grey_cap`` bounds the local variance:
    Levin's fully adaptive width lets a strong edge pass a few percent per link, enough for
    one hint to tint the other side of a wall; capped, a step of 50 grey levels stops it.
    ``chroma`` (H, W, 2), a colour photo's own, also cuts links between neighbours of another
    colour (``CHROMA_SOFTNESS``): recolouring stops at a red coat on a green lawn of the same grey.
    """
    h, w = grey.shape
    g = grey.astype(np.float64) / 255.0
    y = g.reshape(-1)
    index = np.arange(h * w).reshape(h, w)
    mean = cv2.blur(g, (3, 3), borderType=cv2.BORDER_REFLECT)
    var = np.maximum(cv2.blur(g * g, (3, 3), borderType=cv2.BORDER_REFLECT) - mean * mean, 0.0)
    sigma2 = np.clip(var * 0.6, grey_floor, grey_cap if grey_cap is not None else np.inf).reshape(-1)
    flat = features.reshape(h * w, -1) if features is not None else None
    colour = chroma.reshape(h * w, 2).astype(np.float64) if chroma is not None else None
    rows, cols, vals = [], [], []
    for dy, dx in NEIGHBOUR_OFFSETS:
        src = index[0:h - dy, max(0, -dx):w - max(0, dx)].reshape(-1)
        dst = index[dy:h, max(0, dx):w + min(0, dx)].reshape(-1)
        weight = np.exp(-(y[src] - y[dst]) ** 2 / (sigma2[src] + sigma2[dst]))
        if flat is not None:
            cosine = np.einsum("ij,ij->i", flat[src], flat[dst])
            weight *= np.exp(-(1.0 - cosine) / feature_softness)
        if colour is not None:
            weight *= np.exp(-((colour[src] - colour[dst]) ** 2).sum(axis=1) / (2.0 * CHROMA_SOFTNESS ** 2))
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
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)  # one in, one out
                # Without this the process grew by about 5 MB a photo (core.memory).
                release_freed_memory()
        self._entries.move_to_end(key)
        return self._entries[key]


# Incremental solves (``Spreader``).  A stroke changes the system only where it fixes
# pixels (and the decay a little everywhere), so the factorisation of an earlier system
# preconditions the new one; an exact solve of the pixels near the change fixes what it
# gets wrong there.  Measured on the sample photo at 256 px: 3-5 steps, the chroma within
# 0.11 grey levels of the direct solve, about 250 ms against 500-600 ms to factorise anew
# on a busy 2-core machine.
LOCAL_MARGIN = 12  # working-size pixels around the changed ones that the local solve covers
LOCAL_MAX_SHARE = 0.25  # a change whose surroundings exceed this share of the photo: factorise anew
# Relative residual per channel.  Measured on the sample photo at 12 MP, 8 strokes
# against the direct solve: 1e-5 max 0.03 grey levels, 1e-4 max 0.13 (both far below
# what anyone sees) and one step fewer, 80 -> 65 ms.  Since the semantic engine solves
# its two quantities as one (semantic_engine._chroma), 1e-4 stopped a step earlier than
# the four-channel solve had on some strokes (12 strokes, radius 4, against the direct
# solve: p99 0.57 grey levels, max 1.9, against 0.12 and 1.5 before); 5e-5 is at least
# as close as before on every stroke (p99 0.11, max 1.5) and still cheaper than four channels.
PCG_TOLERANCE = 5e-5
PCG_MAX_STEPS = 30  # not converged by then (it takes 3-5): factorise anew
# A draft's steps.  CG steps, not bare preconditioner sweeps: a sweep through the older
# factorisation multiplies the error near a new stroke by up to 1 / decay and overshot
# by hundreds of grey levels, while each CG step can only lower the error (energy norm).
# Measured on the sample photo at 12 MP, draft against final (chroma, grey levels):
# 1 step mean 1.1, max 27; 2 steps mean 0.09, max 2.6 (the old 128 px draft: 5.5, 33).
# Measured again with the two-channel solve (benchmarks/profile_stroke.py, 10 strokes of
# radius 8, a draft of half the stroke and then of all of it): 2 steps mean 1.0, p99 11,
# max 200, the same as with four channels: one stroke (the 4th, at the photo's left edge)
# jumps over more than 1 % of the photo, where 2 steps do not reach far enough.  With a
# draft per mouse move, as the window asks for them (12 strokes of 6 moves, radius 4):
# mean 0.05, p99 1.1, max 4.3; 1 step there: mean 1.4, max 90.
QUICK_STEPS = 2
# Exact drafts (``Spreader._bordered``): the new system is the factorised one with a few
# more pixels fixed, so one solve through the older factorisation plus a small dense system
# over those pixels solves it exactly (the capacitance-matrix method: Hockney 1970; Proskurowski
# & Widlund 1976).  Each fixed pixel costs one more solve (about 1 ms at 192 px, kept for the
# rest of the stroke): a thin stroke on a large photo fixes 3-6 new pixels per mouse move, a
# thick one on a small photo dozens, so past these counts the draft takes the CG steps instead.
# Measured with a draft per mouse move (12 strokes of 6 moves, radius 4, 12 MP, one BLAS
# thread): draft median 28.7 -> 16.7 ms, final unchanged (21-25 ms), draft against final
# mean 0.157 -> 0.002 grey levels, max 4.0 -> 1.0.
BORDER_NEW_MAX = 12  # columns solved per draft
BORDER_MAX = 256  # pixels in all (their columns: 256 x 37 k float32 = 38 MB at 192 x 192)
REFRESH_NICENESS = 10  # the background refactorisation yields the cores to the strokes
# ... and waits this long before it starts: the stroke's result is still being finished,
# composed and painted then, and the refactorisation's Python parts hold the GIL (niceness
# does not help there).  Measured in the window benchmark at 1 MP: the final's finishing
# step (core.hints.finish) took 12-17 ms with the refactorisation running beside it, 3-4 ms without.
REFRESH_DELAY_S = 0.08


def _factorise(matrix: sp.spmatrix):
    """LU of a symmetric positive definite system: symmetric ordering, no pivoting (not needed)."""
    return splu(matrix.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                options={"SymmetricMode": True})


def _dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-column dot products of two (pixels, channels) arrays: ``(a * b).sum(axis=0)``
    without the temporary (a reduction down the long axis took 4 ms of a 40 ms draft)."""
    return np.einsum("ij,ij->j", a, b)


def _norms(a: np.ndarray) -> np.ndarray:
    return np.sqrt(_dots(a, a))


@dataclass(frozen=True)
class _Factor:
    """An approximate inverse of one system: its fixed pixels and its decay."""

    inverse: Callable[[np.ndarray], np.ndarray]
    fixed: np.ndarray
    decay: float


class _FactorHome:
    """One long-lived thread that makes every factorisation kept between solves, and frees it.

    scipy's SuperLU records what it allocates with the thread that allocates it and frees
    memory only in that thread (scipy issue 15921).  A factorisation made in a short-lived
    thread and dropped in another was never freed: the background refactorisation after
    every stroke leaked about 12 MB a stroke at 192 px (session 15; 40 strokes on the sample
    photo took the engine from 218 to 704 MB).  So each kept factorisation is made here and
    handed back here to be freed (``KeptFactor``); one made and dropped inside one call of
    the caller's thread (a local solve) needs none of this.

    Its own thread and queue rather than an executor: a factorisation is handed back from
    ``__del__``, which may run while its thread holds any lock, an executor's own among
    them (a test run hung there); ``queue.SimpleQueue.put`` takes none that can be held.
    """

    def __init__(self, name: str, niceness: int = 0) -> None:
        self.name, self._niceness = name, niceness
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def _serve(self) -> None:
        if self._niceness:  # Linux gives a thread its own niceness; elsewhere nothing changes
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._niceness)
            except (AttributeError, OSError):
                pass
        while (job := self._jobs.get()) is not None:
            work, args, future = job
            del job  # from here on only these names hold what the job carries
            if future is None:
                work(*args)
            elif future.set_running_or_notify_cancel():
                try:
                    future.set_result(work(*args))
                except BaseException as exc:  # the caller's to handle, as an executor would
                    future.set_exception(exc)
            del work, args, future  # let go here, in this thread

    def _stop(self) -> None:
        # At exit, after what is queued: a daemon thread still factorising when the program
        # ended broke the interpreter's shutdown (its last flush of stdout failed, exit
        # status 120, a flaky test); waiting costs an exit a few hundred milliseconds.
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join()

    def submit(self, work: Callable, *args) -> Future:
        with self._starting:
            if self._thread is None:  # started on first use: importing the module starts no thread
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
                atexit.register(self._stop)
        future: Future = Future()
        self._jobs.put((work, args, future))
        return future

    def free(self, release: Callable[[], None]) -> None:
        """Call ``release`` in this thread; safe from ``__del__`` (takes no lock)."""
        self._jobs.put((release, (), None))

    def factorise(self, matrix: sp.spmatrix, single: bool = False) -> KeptFactor:
        """``matrix``'s factorisation (``single``: in single precision, as a preconditioner), made here."""
        return self.submit(KeptFactor, matrix, self, single).result()


class KeptFactor:
    """A SuperLU factorisation made in its home's thread (``_FactorHome``), solving as
    ``lu.solve``, and freed there when it is no longer used.

    ``single``: in single precision, for one that only preconditions conjugate gradients,
    which run in double precision (measured at 256 px: each solve 6.5 ms against 10.3 ms,
    its relative residual 1e-5)."""

    def __init__(self, matrix: sp.spmatrix, home: _FactorHome, single: bool) -> None:
        self._home, self._single = home, single
        if single:
            try:
                self._lu = _factorise(matrix.astype(np.float32))
                return
            except RuntimeError:
                # "Factor is exactly singular": pixels that the features cut from all but each
                # other, where single precision rounds 1 + 1e-9 to 1 and a pivot to zero.  Rare;
                # double precision keeps them apart.
                self._single = False
        self._lu = _factorise(matrix)

    def __call__(self, rhs: np.ndarray) -> np.ndarray:
        return self._lu.solve(rhs.astype(np.float32) if self._single else rhs)

    def __del__(self) -> None:
        # The box is the factorisation's only holder, emptied by the home's thread: whichever
        # thread lets go of the box last, the factorisation itself is freed there.
        box = [self.__dict__.pop("_lu", None)]
        self._home.free(box.clear)


# Kept factorisations asked for by a solve (the first one of a photo, a fallback) are made
# at normal priority: the solve waits for them.  Refactorisations for the next stroke are
# made behind the strokes: on two cores their 200 ms slowed the next stroke's drafts.
_ON_DEMAND = _FactorHome("colorme-factorise")
BEHIND_THREAD = "colorme-refactorise"  # its thread's name (tests tell its work from a stroke's)
_BEHIND = _FactorHome(BEHIND_THREAD, niceness=REFRESH_NICENESS)


class Spreader:
    """``spread`` on one pixel graph, each solve starting from the work of the one before.

    The system is kept over every pixel, fixed ones as identity rows, so its shape never
    changes.  The newest factorisation (made again in a background thread after each
    incremental solve; SuperLU releases the GIL) preconditions conjugate gradients, started
    from the previous solution, and solves drafts exactly while they only fix a few more
    pixels (``_bordered``).  Only one thread may call ``spread`` at a time.
    """

    def __init__(self, laplacian: sp.csr_matrix, width: int) -> None:
        self._degree = laplacian.diagonal().copy()
        self._off = (laplacian - sp.diags(self._degree)).tocsr()  # -w_rs off the diagonal
        # The laplacian's pattern (diagonal included) with each entry's row and column:
        # every system has it, so ``_system`` only fills in values (2 sparse products and
        # a sparse sum took 8 ms of a 40 ms draft at 256 px).
        off = self._off.tocoo()
        links = off.row != off.col
        n = laplacian.shape[0]
        pattern = sp.csr_matrix((np.concatenate([off.data[links], np.zeros(n)]),
                                 (np.concatenate([off.row[links], np.arange(n)]),
                                  np.concatenate([off.col[links], np.arange(n)]))), shape=(n, n))
        pattern.sum_duplicates()
        pattern.sort_indices()
        self._pattern = pattern
        self._rows = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
        self._on_diagonal = self._rows == pattern.indices
        self._width = width
        self._lock = threading.Lock()  # guards _factor against the refresh thread
        self._factor: _Factor | None = None  # of a system solved before
        self._refresh: Future | None = None  # the background refactorisation (``_refresh_factor``)
        self._last: np.ndarray | None = None  # the previous solution: where the next one starts
        # For exact drafts: the factor's solves of unit changes at pixels fixed since it was
        # made ((pixels, k) float32) and those pixels, in the columns' order.
        self._border: tuple[_Factor, np.ndarray, np.ndarray] | None = None
        # ... and its solution for the values its own system fixes (factor, those values, solution).
        self._kept_base: tuple[_Factor, np.ndarray, np.ndarray] | None = None

    def _system(self, fixed: np.ndarray, decay: float) -> sp.csr_matrix:
        """Off-diagonal links of free pixels to free pixels; on the diagonal a fixed pixel's
        1 or a free pixel's degree with the decay's pull."""
        pattern = self._pattern
        cols = pattern.indices
        values = np.where(fixed[self._rows] | fixed[cols], 0.0, pattern.data)
        diagonal = np.where(fixed, 1.0, self._degree * (1.0 + decay) + 1e-9)
        values[self._on_diagonal] = diagonal[self._rows[self._on_diagonal]]
        return sp.csr_matrix((values, cols.copy(), pattern.indptr.copy()), shape=pattern.shape)

    def prime(self, decay: float) -> None:
        """Factorise the system with no pixel fixed, before any stroke needs it.

        Its solution is zero (no hint, no change), and its factorisation preconditions the
        first stroke as well as any later one: without it the first stroke on a photo
        paid a whole factorisation (the 1 MP p95 of 1.1 s in benchmarks/run.py).
        """
        fixed = np.zeros(self._degree.size, dtype=bool)
        factor = _Factor(_ON_DEMAND.factorise(self._system(fixed, decay), single=True), fixed, decay)
        with self._lock:
            if self._factor is None:
                self._factor = factor

    @property
    def primed(self) -> bool:
        with self._lock:
            return self._factor is not None

    def spread(self, values: np.ndarray, mask: np.ndarray, decay: float,
               target: np.ndarray | None = None, quick: bool = False,
               stop: Callable[[], bool] | None = None, next_decay: float | None = None,
               tolerances: Sequence[float] | None = None) -> np.ndarray | None:
        """The same as ``propagation.spread`` (and within ``PCG_TOLERANCE`` of it).

        ``quick``: a draft while the user drags.  Where the older factorisation's system
        differs from this one only by a few more fixed pixels and it has the same decay, the
        draft is this system's exact solution in single precision (``_bordered``); otherwise
        ``QUICK_STEPS`` of the incremental solve and whatever they reached: the pixels near the
        change solved exactly and the rest through the older factorisation.  Either way the
        final continues from it.  None when there is no earlier factorisation to start from.
        ``stop`` (with ``quick``) is asked before each step; when it says True the draft is
        given up (``DraftSupersededError``), what it reached kept as the start of the next solve.
        ``next_decay``: the decay the next stroke's system will have (one more hint); the
        background refactorisation after this solve is made with it, so that stroke's drafts
        can be exact.  ``tolerances``: a relative residual per channel for the incremental
        solve, where one channel needs less than ``PCG_TOLERANCE`` (else that for every one).
        """
        h, w = mask.shape
        fixed = mask.reshape(-1) > 0.5
        channels = values.shape[-1]
        if not fixed.any():
            return np.zeros((h, w, channels), dtype=np.float32)
        flat = values.reshape(h * w, -1).astype(np.float64)
        with self._lock:
            factor = self._factor
        if quick and factor is not None:
            x = self._bordered(flat, target, fixed, decay, factor, stop)
            if x is not None:
                self._last = x
                return x.reshape(h, w, channels).astype(np.float32)
        rhs = -(self._off @ (flat * fixed[:, None]))
        if target is not None:
            rhs += (decay * self._degree)[:, None] * target.reshape(h * w, -1)
        rhs[fixed] = flat[fixed]
        system = self._system(fixed, decay)
        x = None
        if factor is not None:
            # Before the first stroke (or after a change in what is solved), the start is
            # no change at all: that is the primed system's solution.  Until session 15 a
            # start of another channel count meant a whole factorisation instead, and the
            # semantic engine's third channel (session 14) made every first stroke pay one.
            if self._last is None or self._last.shape != flat.shape:
                self._last = np.zeros_like(flat)
            goals = np.full(channels, PCG_TOLERANCE) if tolerances is None else np.asarray(tolerances, float)
            x = self._incremental(system, rhs, fixed, factor, quick, stop if quick else None,
                                  (decay, decay if next_decay is None else next_decay), goals)
        if x is None:
            if quick:
                return None
            lu = _ON_DEMAND.factorise(system)
            x = lu(rhs)
            with self._lock:
                self._factor = _Factor(lu, fixed, decay)
            if next_decay is not None and next_decay != decay:
                self._refresh_factor(system, fixed, decay, next_decay)  # for the next stroke's drafts
        if not quick:
            self._border = self._kept_base = None  # the stroke has ended: what its drafts kept goes
        self._last = x
        return x.reshape(h, w, channels).astype(np.float32)

    def _near(self, changed: np.ndarray) -> np.ndarray | None:
        """Indices of the pixels within ``LOCAL_MARGIN`` of a changed one; None if too many.

        A band around the change rather than its bounding box: a long diagonal stroke,
        or two strokes far apart, then still make a small local system.
        """
        height = changed.size // self._width
        grown = cv2.dilate(changed.reshape(height, self._width).astype(np.uint8),
                           np.ones((2 * LOCAL_MARGIN + 1, 2 * LOCAL_MARGIN + 1), np.uint8))
        near = np.flatnonzero(grown.reshape(-1))
        return None if near.size > LOCAL_MAX_SHARE * changed.size else near

    def _bordered(self, flat: np.ndarray, target: np.ndarray | None, fixed: np.ndarray, decay: float,
                  factor: _Factor, stop: Callable[[], bool] | None) -> np.ndarray | None:
        """The exact solution through ``factor`` when its system is this one with fewer pixels
        fixed (the capacitance-matrix method); None when it is not, or too many are new.

        With S the pixels fixed since and A the factorised system (S free in it): where
        y0 = A^-1 b0 solves it for the values it fixes, x = y0 + A^-1 E c with a charge c on
        S's rows meets every other row's equation of this system (A's rows with S's values
        moved to the right-hand side), and takes S's values when
        (E^T A^-1 E) c = v_S - y0[S].  A^-1 E are ``_columns``, and y0 changes only with
        the values A fixes: both are kept for the rest of the stroke, so a draft solves only
        for the pixels it newly fixes.  ``stop`` is asked before each solve.
        """
        if factor.decay != decay or (factor.fixed & ~fixed).any():
            return None  # another decay (hints taken away, ...) or pixels set free: CG steps
        new = np.flatnonzero(fixed & ~factor.fixed)
        give_up_if(stop)
        columns = self._columns(factor, new)
        if columns is None:
            return None
        give_up_if(stop)  # the columns solved so far are kept for the next draft
        x = self._base(flat, target, decay, factor).astype(np.float64)
        if new.size:
            try:
                charges = np.linalg.solve(columns[new].astype(np.float64), flat[new] - x[new])
            except np.linalg.LinAlgError:  # not seen (it is part of an SPD inverse): CG steps then
                return None
            x += columns @ charges.astype(np.float32)
        x[fixed] = flat[fixed]
        return x

    def _base(self, flat: np.ndarray, target: np.ndarray | None, decay: float, factor: _Factor) -> np.ndarray:
        """``factor``'s solution for the values its system fixes, kept while they stay."""
        held = flat[factor.fixed]
        if (target is None and self._kept_base is not None and self._kept_base[0] is factor
                and np.array_equal(self._kept_base[1], held)):
            return self._kept_base[2]
        b = -(self._off @ (flat * factor.fixed[:, None]))
        if target is not None:
            b += (decay * self._degree)[:, None] * target.reshape(b.shape)
        b[factor.fixed] = held
        base = np.asarray(factor.inverse(b), dtype=np.float32)
        self._kept_base = (factor, held, base) if target is None else None
        return base

    def _columns(self, factor: _Factor, new: np.ndarray) -> np.ndarray | None:
        """``factor``'s solves of a unit change at each pixel of ``new``, as columns in that
        order.  At most ``BORDER_NEW_MAX`` are solved per call and kept: None while some are
        still missing (the draft takes CG steps, the next one catches up: a factorisation that
        lands mid-stroke finds the whole stroke new), or past ``BORDER_MAX`` in all."""
        if self._border is None or self._border[0] is not factor:
            self._border = (factor, np.empty(0, dtype=np.int64), np.empty((factor.fixed.size, 0), np.float32))
        _, kept, columns = self._border
        missing = np.setdiff1d(new, kept)
        if kept.size + missing.size > BORDER_MAX:
            return None
        if missing.size:
            solving = missing[:BORDER_NEW_MAX]
            units = np.zeros((factor.fixed.size, solving.size), dtype=np.float32, order="F")
            units[solving, np.arange(solving.size)] = 1.0
            kept = np.concatenate([kept, solving])
            columns = np.hstack([columns, np.asarray(factor.inverse(units), dtype=np.float32)])
            self._border = (factor, kept, columns)
            if solving.size < missing.size:
                return None
        order = np.argsort(kept)
        return columns[:, order[np.searchsorted(kept, new, sorter=order)]]

    def _incremental(self, system, rhs, fixed, factor: _Factor, quick: bool,
                     stop: Callable[[], bool] | None, decays: tuple[float, float],
                     tolerances: np.ndarray) -> np.ndarray | None:
        """Preconditioned CG from the previous solution; None if it does not converge
        (``quick``: the solution after ``QUICK_STEPS``, converged or not).  ``decays``: the
        system's and the next one's (``spread``'s ``next_decay``); ``tolerances``: each
        column's relative residual at which it is done."""
        inverse, factor_fixed = factor.inverse, factor.fixed
        changed = fixed != factor_fixed
        is_changed = bool(changed.any())
        if is_changed:
            near = self._near(changed)
            if near is None:
                return None
            # The system's rows of the surroundings: (system @ z)[near] for any z, and, as
            # the system is symmetric, system @ z for a z that is zero elsewhere; two
            # products over the whole photo per step were 6 of a 40 ms draft.
            near_rows = system[near]
            near_cols = near_rows.T.tocsr()
            local = _factorise(near_rows[:, near])

        def precondition(r: np.ndarray) -> np.ndarray:
            # Symmetric multiplicative Schwarz: the changed pixels' surroundings exactly,
            # the whole photo through the older factorisation, the surroundings again.
            # (The older factorisation may be single precision: CG runs in double.)
            if not is_changed:
                return inverse(r).astype(np.float64, copy=False)
            z_near = local.solve(r[near])
            z = inverse(r - near_cols @ z_near).astype(np.float64, copy=False)
            z[near] += z_near
            z[near] += local.solve(r[near] - near_rows @ z)
            return z

        def give_up_if_stopped() -> None:
            if stop is not None and stop():
                self._last = x  # a start at least as near as the one before
                raise DraftSupersededError

        x = self._last.copy()
        x[fixed] = rhs[fixed]
        give_up_if_stopped()
        residual = rhs - system @ x
        goal = tolerances * np.maximum(_norms(rhs), 1e-12)
        active = np.arange(x.shape[1])  # the columns still stepping
        z = precondition(residual)
        direction = z.copy()
        rz = _dots(residual, z)
        for step in range(PCG_MAX_STEPS):
            going = _norms(residual) > goal
            if not going.all():
                if not going.any():
                    if not quick:  # a draft's system is gone with the next mouse move
                        self._refresh_factor(system, fixed, *decays)
                    return x
                # A column that has converged takes no more steps: each step's solves
                # cost about as much per column as they save.
                active, goal, rz = active[going], goal[going], rz[going]
                residual, direction = residual[:, going], direction[:, going]
            image = system @ direction
            alpha = rz / np.maximum(_dots(direction, image), 1e-300)
            if active.size == x.shape[1]:
                x += alpha * direction
            else:
                x[:, active] += alpha * direction
            residual -= alpha * image
            if quick and step + 1 == QUICK_STEPS:
                return x
            if quick:
                give_up_if_stopped()
            z = precondition(residual)
            rz_next = _dots(residual, z)
            direction = z + (rz_next / np.maximum(rz, 1e-300)) * direction
            rz = rz_next
        return None

    def _refresh_factor(self, system: sp.csr_matrix, fixed: np.ndarray, decay: float, next_decay: float) -> None:
        """Factorise this system in the background, with the next stroke's decay, so that
        stroke starts nearer (and its drafts can be exact)."""
        if self._refresh is not None and not self._refresh.done():
            return
        # Built here: numpy holds the GIL while it builds, and the low-priority thread
        # holding it would keep the strokes waiting.
        made = system if next_decay == decay else self._system(fixed, next_decay)

        def work() -> None:
            time.sleep(REFRESH_DELAY_S)
            factor = _Factor(KeptFactor(made, _BEHIND, single=True), fixed, next_decay)
            with self._lock:
                self._factor = factor

        self._refresh = _BEHIND.submit(work)


def nonlocal_target(components: np.ndarray, points: np.ndarray, changes: np.ndarray, size: tuple[int, int],
                    softness: float, trust: np.ndarray | None = None) -> np.ndarray:
    """The change each pixel would take from the hints on the same kind of thing.

    ``components`` (h, w, K) are the backbone tokens' principal components
    (``token_components``: raw tokens share so much that sky and tree stayed alike, and a
    hint reached both or neither); ``points`` (K, 2) are hint positions as fractions of the
    width and height, ``changes`` (K, 2) the chroma change asked there.  Each token weighs
    each hint by exp((cos - 1) / softness) of their components; the weighted mean change, shrunk
    where the total weight is below one, is brought to ``size`` = (W, H).  A token like no
    hint gets (almost) no change.  ``trust`` (K,), 0..1, scales each point's weights: how far
    its token shows what was painted there, and its share of the stroke it samples.
    """
    h, w = components.shape[:2]
    weights = token_likeness(components, points, softness, trust)
    total = weights.sum(axis=1, keepdims=True)
    mean = (weights @ changes) / np.maximum(total, 1.0)
    return cv2.resize(mean.reshape(h, w, 2).astype(np.float32), size, interpolation=cv2.INTER_LINEAR)


def token_likeness(components: np.ndarray, points: np.ndarray, softness: float,
                   trust: np.ndarray | None = None) -> np.ndarray:
    """(h * w, K): how alike each token is to the token under each of K ``points`` (fractions
    of the width and height), exp((cos - 1) / softness) of their principal ``components``
    (h, w, C), times each point's ``trust`` (``nonlocal_target``)."""
    h, w = components.shape[:2]
    flat = components.reshape(h * w, -1).copy()
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-6)
    cols = np.clip((points[:, 0] * w).astype(int), 0, w - 1)
    rows = np.clip((points[:, 1] * h).astype(int), 0, h - 1)
    weights = np.exp((flat @ flat[rows * w + cols].T - 1.0) / softness)
    if trust is not None:
        weights *= trust[None, :]
    return weights

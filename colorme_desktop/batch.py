"""Colorizing many photos: in this process, in worker processes, or on a Dask cluster.

Qt-free so that the command line and the app share it.  ``run_batch`` yields one
``ItemResult`` per photo as each finishes; a photo that fails becomes a result with an
error and never stops the others.  Each worker process creates its engine once (networks
take seconds to load) and keeps it for every photo it is given.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from colorme_desktop.core.batch_plan import BatchItem
from colorme_desktop.core.color import ColourError, compose
from colorme_desktop.core.hints import Hint, HintsFileError, load_hints_file
from colorme_desktop.core.imageio import (
    ImageLoadError,
    ImageSaveError,
    LoadedImage,
    load_image,
    remove_partial_saves,
    save_image,
)
from colorme_desktop.engines.base import Engine, EngineError, prefer_passive_threads, reuse_freed_memory
from colorme_desktop.engines.registry import RECOLOURING_ENGINES

log = logging.getLogger(__name__)

EngineFactory = Callable[[], Engine]

# A worker process that dies (the kernel's out-of-memory killer, a crash in native code)
# takes every photo it was given with it; those are tried once more in a fresh pool.
_ATTEMPTS = 2


class ClusterUnavailableError(Exception):
    """--scheduler was given but Dask is not installed or the scheduler cannot be reached."""


@dataclass(frozen=True)
class BatchOptions:
    engine: str | None = None  # a registry name; None: the best available
    saturation: float = 1.0
    # Given only by callers that need their own engine (tests: a fake one).  It must be
    # importable by name (a module-level function) to reach worker processes.
    engine_factory: EngineFactory | None = None
    reference: Path | None = None  # a colour photo whose colours every photo takes (--reference)
    # A colour photo keeps its own colours where no hint changes them (not with a reference
    # photo, whose colours win; --from-grey: off).
    keep_own_colours: bool = True

    @property
    def own_colours(self) -> bool:
        return self.keep_own_colours and self.reference is None


@dataclass
class ItemResult:
    item: BatchItem
    error: str | None = None  # None: written
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def default_jobs() -> int:
    """Cores this process may use (a container or taskset may allow fewer than exist)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def make_engine(options: BatchOptions) -> tuple[Engine, str | None]:
    """(engine, note about a fallback); raises EngineError, e.g. for weights that fail to load."""
    if options.engine_factory is not None:
        engine, note = options.engine_factory(), None
    else:
        from colorme_desktop.engines.registry import create_engine

        engine, note = create_engine(options.engine)
    if options.reference is not None:
        engine = with_reference(engine, options.reference)
    return engine, note


def with_reference(engine: Engine, path: Path) -> Engine:
    """``engine`` taking its colours from the colour photo at ``path`` where it matches."""
    from colorme_desktop.engines.reference import ReferenceGuided

    try:
        image = load_image(path)
    except ImageLoadError as exc:
        raise EngineError(f"Cannot use the reference photo: {exc}") from None
    if image.rgb is None:
        raise EngineError(f"The reference photo {path.name} is grey; it has no colours to give.")
    return ReferenceGuided(engine, image.rgb)


# Said of a colour photo written out as it came in: without it, a folder of colour photos
# "colorized" into copies of themselves looks like a failure.
UNCHANGED_NOTE = ("a colour photo without hints keeps its own colours (to colour it from its grey: --from-grey, "
                  "or untick Engine > Keep a Colour Photo's Own Colours)")


# ... and of one that looks like a toned black-and-white print (``LoadedImage.toned``): an album
# of old sepia prints came back as it went in (a walk-through).
TONED_NOTE = ("its colours are all of one hue, as a toned black-and-white print's (sepia): to colour it "
              "from its grey, --from-grey or untick Engine > Keep a Colour Photo's Own Colours")


def colorize_photo(engine: Engine, image: LoadedImage, hints: Sequence[Hint], own_colours: bool
                   ) -> tuple[np.ndarray, str | None]:
    """The engine's chroma for ``image``, and ``UNCHANGED_NOTE`` (or ``TONED_NOTE``) if it
    comes out as it came in.

    A colour photo starts from its own colours if ``own_colours`` asks and the engine can
    (``RECOLOURING_ENGINES``)."""
    if not (own_colours and image.rgb is not None and getattr(engine, "name", None) in RECOLOURING_ENGINES):
        return engine.colorize(image.grey, hints), None
    chroma = engine.colorize(image.grey, hints, photo_rgb=image.rgb)
    if hints:
        return chroma, None
    return chroma, TONED_NOTE if image.toned else UNCHANGED_NOTE


def colorize_item(item: BatchItem, engine: Engine, saturation: float = 1.0, own_colours: bool = False) -> ItemResult:
    """Colorize one photo and save it; every failure becomes the result's error message."""
    start = time.perf_counter()
    result = ItemResult(item)
    try:
        image = load_image(item.source, page=item.page)
        result.notes.extend(image.notes)
        hints = load_hints_file(item.hints, image.size) if item.hints is not None else ()
        chroma, note = colorize_photo(engine, image, hints, own_colours)
        result.notes += [note] if note else []
        try:
            rgb = compose(image.grey, chroma, saturation, photo=image.rgb)
        except ColourError as exc:
            raise ColourError(f"the {engine.name} engine failed: {exc}") from None
        save_image(item.output, rgb, alpha=image.alpha, metadata=image.metadata)
    except (ImageLoadError, HintsFileError, ImageSaveError, ColourError, EngineError) as exc:
        result.error = str(exc)
    except MemoryError:
        result.error = "not enough memory for this photo"
    except Exception as exc:  # noqa: BLE001 - one photo's surprise must not end the batch
        log.debug("unexpected failure on %s", item.source, exc_info=True)
        result.error = f"unexpected error: {exc}"
    result.seconds = time.perf_counter() - start
    return result


def run_batch(items: Sequence[BatchItem], options: BatchOptions, *, jobs: int = 1,
              scheduler: str | Any | None = None, cancel: threading.Event | None = None,
              engine: Engine | None = None) -> Iterator[ItemResult]:
    """Colorize ``items``, yielding each result as it is ready (not in order).

    ``jobs`` > 1 runs that many worker processes; ``scheduler`` (a Dask scheduler address)
    runs on that cluster instead.  Setting ``cancel`` stops handing out photos; photos
    already being colorized finish.  Closing the iterator early cancels the same way.
    ``engine``, if the caller already made one (to check it loads and show its note), is
    used when the photos are colorized in this process.  Output folders are created here,
    before any photo is handed out.
    """
    for folder in sorted({item.output.parent for item in items}):
        folder.mkdir(parents=True, exist_ok=True)
    if scheduler is not None:
        yield from _run_on_cluster(items, options, scheduler, cancel)
    elif jobs <= 1 or len(items) <= 1:
        yield from _run_here(items, options, cancel, engine)
    else:
        yield from _run_in_processes(items, options, min(jobs, len(items)), cancel)


def _run_here(items: Iterable[BatchItem], options: BatchOptions, cancel: threading.Event | None,
              engine: Engine | None) -> Iterator[ItemResult]:
    if engine is None:
        engine, _ = make_engine(options)
    for item in items:
        if cancel is not None and cancel.is_set():
            return
        yield colorize_item(item, engine, options.saturation, options.own_colours)


# ------------------------------------------------------------------ worker processes

_worker_engine: Engine | None = None
_worker_problem: str | None = None
_worker_busy = False


class _WorkerStopped(BaseException):
    """SIGTERM while colorizing: unwinds the photo so its half-written save is removed."""


def _on_worker_sigterm(signum: int, frame: object) -> None:
    # The pool sends SIGTERM to every worker when one dies.  A worker killed mid-save would
    # leave its temporary file behind; unwinding first lets the save clean up.  An idle
    # worker leaves at once: it must not linger, the pool waits for it to end.
    if _worker_busy:
        raise _WorkerStopped
    os._exit(128 + signum)


def _init_worker(options: BatchOptions, threads: int) -> None:
    """Runs once in each worker process: divide the cores, create the engine."""
    global _worker_engine, _worker_problem
    signal.signal(signal.SIGTERM, _on_worker_sigterm)
    prefer_passive_threads()  # before torch is imported: a fresh (spawned) process
    reuse_freed_memory()
    # Without a limit every worker starts one thread per core, and N workers oversubscribe
    # the machine N times over: numpy's BLAS (the semantic engine) is limited here, torch
    # (only the neural engine imports it) reads the variable when it starts.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    threadpool_limits(threads)
    try:
        _worker_engine, _ = make_engine(options)
    except EngineError as exc:
        # Raising here would break the pool with no message; each photo reports it instead.
        _worker_problem = str(exc)


def _work(item: BatchItem, saturation: float, own_colours: bool) -> ItemResult:
    global _worker_busy
    if _worker_engine is None:
        return ItemResult(item, error=_worker_problem or "the engine could not be created")
    _worker_busy = True
    try:
        return colorize_item(item, _worker_engine, saturation, own_colours)
    except _WorkerStopped:
        os._exit(128 + signal.SIGTERM)
    finally:
        _worker_busy = False


def _run_in_processes(items: Sequence[BatchItem], options: BatchOptions, jobs: int,
                      cancel: threading.Event | None) -> Iterator[ItemResult]:
    threads = max(1, default_jobs() // jobs)
    # "spawn": forking a process that has already started torch's thread pools can
    # deadlock the children; fresh interpreters are slower to start but safe.
    context = multiprocessing.get_context("spawn")
    queue = deque((item, 1) for item in items)
    while queue:
        broken: list[tuple[BatchItem, int]] = []
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                 initargs=(options, threads)) as pool:
            pending: dict[Future, tuple[BatchItem, int]] = {}
            try:
                while queue or pending:
                    while queue and _may_submit(queue[0][1], pending, jobs) and not _stopped(cancel):
                        item, attempt = queue.popleft()
                        pending[pool.submit(_work, item, options.saturation, options.own_colours)] = (item, attempt)
                    if not pending:
                        return  # cancelled
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        item, attempt = pending.pop(future)
                        try:
                            yield future.result()
                        except BrokenProcessPool:
                            broken.append((item, attempt))
                    if broken:
                        break
            finally:
                for future in pending:
                    future.cancel()
        if not broken:
            return
        # The pool is unusable: everything it held is tried again in a fresh one, unless it
        # already was, so a photo that kills its worker every time is reported, not retried.
        # Its workers were killed, some mid-save: their half-written files go first.
        broken.extend(pending.values())
        for item, _ in broken:
            remove_partial_saves(item.output)
        for item, attempt in sorted(broken, key=lambda pair: str(pair[0].source)):
            if attempt >= _ATTEMPTS:
                yield ItemResult(item, error="the worker process colorizing it stopped unexpectedly "
                                             "(out of memory?)")
            else:
                queue.appendleft((item, attempt + 1))


def _may_submit(attempt: int, pending: dict, jobs: int) -> bool:
    """Whether a photo on its ``attempt``-th try may join the ``pending`` ones now.

    A photo tried again (its pool broke while it was in it) runs alone: if the pool breaks
    again, it was this photo.  Beside the photo that kills its worker, an innocent one broke
    twice and was reported as failed (seen in CI)."""
    if attempt > 1:
        return not pending
    # One photo per worker process: the next is handed out the moment one finishes (a few
    # ms, against seconds a photo).  The process pool starts whatever it was handed, so a
    # cancel waits for all of it; with four ahead per worker, Cancel on a folder of ten
    # large photos let eight of them finish (a walk-through, session 19).
    return len(pending) < jobs and all(tries == 1 for _, tries in pending.values())


def _stopped(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


# ------------------------------------------------------------------ Dask cluster

# One engine per worker thread: engines keep per-photo caches that are not safe to share
# between threads, and a Dask worker may run several tasks at once.
_cluster_local = threading.local()


def _cluster_work(item: BatchItem, options: BatchOptions) -> ItemResult:
    engine = getattr(_cluster_local, "engine", None)
    if engine is None:
        try:
            engine, _ = make_engine(options)
        except EngineError as exc:
            return ItemResult(item, error=str(exc))
        _cluster_local.engine = engine
    return colorize_item(item, engine, options.saturation, options.own_colours)


def connect(scheduler: str) -> Any:
    """A Dask client for ``scheduler`` (tcp://host:8786), or a message saying what is missing."""
    try:
        from distributed import Client
    except ImportError:
        raise ClusterUnavailableError(
            "--scheduler needs Dask: pip install 'colorme-desktop[cluster]' "
            "(on this machine and on every worker)") from None
    try:
        return Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ClusterUnavailableError(f"Cannot reach the Dask scheduler at {scheduler}: {exc}") from None


def _run_on_cluster(items: Sequence[BatchItem], options: BatchOptions, scheduler: str | Any,
                    cancel: threading.Event | None) -> Iterator[ItemResult]:
    """Workers read and write the paths themselves, so they must see the same files at the
    same paths (a shared folder); the paths are made absolute because a worker's current
    folder is not ours.  ``scheduler`` may also be an open Client (the benchmark reuses one)."""
    own_client = isinstance(scheduler, str)
    client = connect(scheduler) if own_client else scheduler
    try:
        from distributed import as_completed  # importable: connect() checked

        workers = max(1, sum(client.nthreads().values()))
        queue = deque(replace(item, source=item.source.absolute(), output=item.output.absolute(),
                              hints=item.hints.absolute() if item.hints else None) for item in items)
        originals = dict(zip(queue, items))  # results carry the paths as the caller gave them

        submitted: dict[str, BatchItem] = {}

        def submit() -> Any:
            item = queue.popleft()
            # pure=False: two runs of one photo (after --overwrite) must both really run.
            future = client.submit(_cluster_work, item, options, pure=False)
            submitted[future.key] = item
            return future

        # One photo per worker thread, the next handed out as one finishes: a photo handed to
        # the cluster is colorized whether anyone waits for it or not, so with four ahead
        # per worker Cancel let eight photos finish on two workers.  A photo takes seconds,
        # the way back for the next a few milliseconds.
        running = as_completed([submit() for _ in range(min(len(queue), workers))])
        for future in running:
            item = submitted.pop(future.key)
            try:
                result: ItemResult = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker or a task Dask gave up on
                result = ItemResult(item, error=f"the cluster could not run it: {exc}")
            result.item = originals[item]
            yield result
            if queue and not _stopped(cancel):
                running.add(submit())
    finally:
        if own_client:
            client.close()

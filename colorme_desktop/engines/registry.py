"""Creating engines by name, with the best available one as the default."""

from __future__ import annotations

import logging

from colorme_desktop.engines.base import Engine, EngineError, WeightsNotShippedError

log = logging.getLogger(__name__)

ENGINE_NAMES = ("semantic", "neural", "levin")
# What menus and status lines call each engine.
ENGINE_LABELS = {"semantic": "Semantic network (DINOv2)", "neural": "Neural network (Lite0)",
                 "levin": "Optimization (hints only)"}
DEFAULT_ORDER = ("semantic", "neural")  # the default is the first of these whose weights load
# Engines that can recolour a colour photo from its own colours (``colorize(..., photo_rgb=)``);
# the others colour every photo from its grey.
RECOLOURING_ENGINES = ("semantic",)


def _build(name: str) -> Engine:
    if name == "semantic":
        from colorme_desktop.engines.semantic_engine import SemanticEngine

        return SemanticEngine()
    if name == "neural":
        from colorme_desktop.engines.neural import NeuralEngine

        return NeuralEngine()
    from colorme_desktop.engines.levin import LevinEngine

    return LevinEngine()


def create_engine(name: str | None = None) -> tuple[Engine, str | None]:
    """Return (engine, note).  With no name, the best network whose weights load, else Levin.

    ``note`` explains a fallback so the user knows why colours are not automatic: the
    first damaged engine's reason, or, when none was even installed, the first absence.
    """
    if name is not None and name not in ENGINE_NAMES:
        raise EngineError(f"Unknown engine '{name}'; choose one of {', '.join(ENGINE_NAMES)}.")
    if name == "levin":
        return _build("levin"), None
    damaged, absent = [], []
    for candidate in ((name,) if name else DEFAULT_ORDER):
        try:
            return _build(candidate), None
        except WeightsNotShippedError as exc:
            absent.append(str(exc))
        except EngineError as exc:
            damaged.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure here falls back to Levin
            # The note carries the reason in one line; the traceback is for -v / bug reports.
            log.info("%s engine failed to load", candidate, exc_info=True)
            damaged.append(f"The trained network could not be loaded: "
                           f"{str(exc).splitlines()[0] if str(exc) else repr(exc)}")
    reason = (damaged or absent)[0]
    if name is not None:
        raise EngineError(reason)
    return _build("levin"), f"{reason} Using the optimization engine (colour only where you paint hints)."

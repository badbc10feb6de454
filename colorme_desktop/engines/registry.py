"""Creating engines by name, with the best available one as the default."""

from __future__ import annotations

from colorme_desktop.engines.base import Engine, EngineError

ENGINE_NAMES = ("semantic", "neural", "levin")
DEFAULT_ORDER = ("semantic", "neural")  # the default is the first of these whose weights load


def _try(name: str) -> tuple[Engine | None, str | None]:
    if name == "semantic":
        from colorme_desktop.engines.semantic_engine import try_semantic_engine

        return try_semantic_engine()
    from colorme_desktop.engines.neural import try_neural_engine

    return try_neural_engine()


def create_engine(name: str | None = None) -> tuple[Engine, str | None]:
    """Return (engine, note).  With no name, the best network whose weights load, else Levin.

    ``note`` explains a fallback so the user knows why colours are not automatic.
    """
    from colorme_desktop.engines.levin import LevinEngine

    if name == "levin":
        return LevinEngine(), None
    if name is not None and name not in ENGINE_NAMES:
        raise EngineError(f"Unknown engine '{name}'; choose one of {', '.join(ENGINE_NAMES)}.")
    problems = []
    for candidate in ((name,) if name else DEFAULT_ORDER):
        engine, problem = _try(candidate)
        if engine is not None:
            return engine, None
        problems.append(problem or f"The {candidate} engine is unavailable.")
    if name is not None:
        raise EngineError(problems[0])
    return LevinEngine(), f"{problems[0]} Using the optimization engine (colour only where you paint hints)."

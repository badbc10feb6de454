"""Creating engines by name, with the best available one as the default."""

from __future__ import annotations

from colorme_desktop.engines.base import Engine, EngineError

ENGINE_NAMES = ("neural", "levin")


def create_engine(name: str | None = None) -> tuple[Engine, str | None]:
    """Return (engine, note).  With no name, the network if its weights load, else Levin.

    ``note`` explains a fallback so the user knows why colours are not automatic.
    """
    from colorme_desktop.engines.levin import LevinEngine

    if name == "levin":
        return LevinEngine(), None
    if name not in (None, "neural"):
        raise EngineError(f"Unknown engine '{name}'; choose one of {', '.join(ENGINE_NAMES)}.")
    from colorme_desktop.engines.neural import try_neural_engine

    engine, problem = try_neural_engine()
    if engine is not None:
        return engine, None
    if name == "neural":
        raise EngineError(problem or "The neural engine is unavailable.")
    return LevinEngine(), f"{problem} Using the optimization engine (colour only where you paint hints)."

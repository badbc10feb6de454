"""Undo/redo of hint edits: each entry is the whole (immutable) hint tuple after a step."""

from __future__ import annotations

from collections import deque

from colorme_desktop.core.hints import Hint

HintList = tuple[Hint, ...]


class HintHistory:
    """A bounded undo stack; a new edit clears the redo side (as napari's labels layer)."""

    def __init__(self, initial: HintList = (), max_steps: int = 500) -> None:
        self._undo: deque[HintList] = deque(maxlen=max_steps)
        self._redo: list[HintList] = []
        self._current: HintList = tuple(initial)

    @property
    def current(self) -> HintList:
        return self._current

    def push(self, hints: HintList) -> None:
        hints = tuple(hints)
        if hints == self._current:
            return
        self._undo.append(self._current)
        self._redo.clear()
        self._current = hints

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> HintList:
        if self._undo:
            self._redo.append(self._current)
            self._current = self._undo.pop()
        return self._current

    def redo(self) -> HintList:
        if self._redo:
            self._undo.append(self._current)
            self._current = self._redo.pop()
        return self._current

    def reset(self, hints: HintList = ()) -> None:
        self._undo.clear()
        self._redo.clear()
        self._current = tuple(hints)

"""Scroll bars for the zoomed-in panes: where in the photo you are, and a way to go elsewhere.

The panes share one ``ViewState`` (zoom and centre), so one pair of bars moves them all;
the bars measure the reference pane (the grey one, always shown).  They show only while
the photo is larger than that pane.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtWidgets import QGridLayout, QScrollBar, QWidget

from colorme_desktop.ui.canvas import ImageCanvas, ViewState


class ViewScrollBars(QObject):
    """A horizontal and a vertical bar kept in step with ``view`` as ``canvas`` shows it."""

    def __init__(self, view: ViewState, canvas: ImageCanvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.canvas = canvas
        self.horizontal = QScrollBar(Qt.Orientation.Horizontal)
        self.vertical = QScrollBar(Qt.Orientation.Vertical)
        self._updating = False  # the bars are being set from the view: not a user's scroll
        for bar in (self.horizontal, self.vertical):
            bar.hide()
        # Each bar moves its own axis only: the other keeps the view's exact centre, not its
        # bar's whole-pixel rounding of it.
        self.horizontal.valueChanged.connect(lambda value: self._on_scrolled(x=value))
        self.vertical.valueChanged.connect(lambda value: self._on_scrolled(y=value))
        view.changed.connect(self.update_bars)
        canvas.scale_changed.connect(lambda _scale: self.update_bars())
        canvas.installEventFilter(self)  # a pane that changes size shows more or less of the photo

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.canvas and event.type() == QEvent.Type.Resize:
            self.update_bars()
        return False

    def wrap(self, panes: QWidget) -> QWidget:
        """``panes`` with the bars below and to the right, as one widget."""
        holder = QWidget()
        grid = QGridLayout(holder)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(0)
        grid.addWidget(panes, 0, 0)
        grid.addWidget(self.vertical, 0, 1)
        grid.addWidget(self.horizontal, 1, 0)
        return holder

    def _visible(self) -> tuple[float, float]:
        """How much of the photo the pane shows, in image pixels (width, height)."""
        scale = max(self.canvas.scale(), 1e-6)
        return self.canvas.width() / scale, self.canvas.height() / scale

    def update_bars(self) -> None:
        size = self.canvas.image_size()
        if self.canvas.image is None or size.isEmpty():
            self.horizontal.hide()
            self.vertical.hide()
            return
        centre = self.canvas.centre()
        # Kept as it was on the way out, not cleared: showing a bar resizes the pane, which
        # calls this again from inside (a cleared flag let the next bar's rounding move the view).
        was_updating, self._updating = self._updating, True
        try:
            for axis, (bar, extent, middle) in enumerate(((self.horizontal, size.width(), centre.x()),
                                                          (self.vertical, size.height(), centre.y()))):
                visible = self._visible()[axis]  # measured anew: the first bar's showing shrinks the pane
                if self.view.fit or visible >= extent:
                    bar.hide()
                    continue
                bar.setRange(0, int(round(extent - visible)))
                bar.setPageStep(max(1, int(round(visible))))
                bar.setSingleStep(max(1, int(round(visible / 20))))
                bar.setValue(int(round(middle - visible / 2)))
                bar.show()
        finally:
            self._updating = was_updating

    def _on_scrolled(self, x: int | None = None, y: int | None = None) -> None:
        if self._updating or self.view.fit:
            return
        visible_w, visible_h = self._visible()
        centre = self.canvas.centre()
        self.view.set(zoom=self.view.zoom, centre=QPointF(centre.x() if x is None else x + visible_w / 2,
                                                          centre.y() if y is None else y + visible_h / 2))

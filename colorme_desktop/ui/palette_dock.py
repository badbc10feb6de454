"""The dock with colours to paint with, the brush, the saturation and the engine state."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from colorme_desktop.core.document import DEFAULT_COLOUR, RADIUS_MAX, RADIUS_MIN
from colorme_desktop.core.palette import POINT_SUGGESTIONS, RecentColours, all_grey

Color = tuple[int, int, int]
MAX_RECENT = 10
SUGGESTIONS = 5
HINTED = 5
SUGGESTED_TIP = ("Vivid versions of the automatic colorization's main colours, and of colours the network "
                 "found likely for parts of the photo")
SUGGESTED_NONE_TIP = ("The colorization without hints is grey, so there is nothing to suggest: Levin's engine "
                      "colours only what your hints say. The semantic engine suggests colours.")
HERE_TITLE = "Likely where you point"
HERE_TIP = ("Colours the network finds likely where the mouse last was over the photo, likeliest first (a "
            "near-grey last: Keep Colour keeps a thing's grey), at the photo's lightness there. Where it cannot "
            "decide (green or brown grass), the automatic colour "
            "is a mix of them.")
# The brush swatch while the Keep tool is on: black hatching on white, like a keep hint.
KEEP_SWATCH_STYLE = ("QToolButton { border: 1px solid #222; background: qlineargradient(spread:repeat, "
                     "x1:0, y1:0, x2:0.18, y2:0.18, stop:0 #000, stop:0.3 #000, stop:0.31 #fff, stop:1 #fff); }")


class Swatch(QToolButton):
    """A square button showing one colour; clicking it chooses that colour."""

    chosen = Signal(tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colour: Color | None = None
        self.setFixedSize(28, 28)
        self.clicked.connect(lambda: self.colour is not None and self.chosen.emit(self.colour))
        self.set_colour(None)

    def set_colour(self, colour: Color | None) -> None:
        self.colour = colour
        self.setEnabled(colour is not None)
        if colour is None:
            self.setStyleSheet("QToolButton { background: transparent; border: 1px dashed #888; }")
            self.setToolTip("")
        else:
            self.setStyleSheet(f"QToolButton {{ background: rgb{tuple(colour)}; border: 1px solid #222; }}")
            self.setToolTip("#{:02x}{:02x}{:02x}".format(*colour))


class PaletteDock(QWidget):
    colour_chosen = Signal(tuple)
    radius_changed = Signal(float)
    saturation_changed = Signal(float)
    eyedropper_toggled = Signal(bool)
    keep_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        current_row = QHBoxLayout()
        self.current = Swatch()
        self.current.setFixedSize(40, 40)
        current_row.addWidget(QLabel("Brush colour"))
        current_row.addWidget(self.current)
        current_row.addStretch()
        layout.addLayout(current_row)

        self.suggested_label = QLabel("Suggested for this photo")
        self.suggested_label.setToolTip(SUGGESTED_TIP)
        layout.addWidget(self.suggested_label)
        self.suggested = [Swatch() for _ in range(SUGGESTIONS)]
        layout.addLayout(self._row(self.suggested))
        self.here_label = QLabel(HERE_TITLE)
        self.here_label.setToolTip(HERE_TIP)
        layout.addWidget(self.here_label)
        self.here = [Swatch() for _ in range(POINT_SUGGESTIONS)]
        layout.addLayout(self._row(self.here))
        self.reference_label = QLabel("From the colour photo")
        self.reference_label.setToolTip("The main colours of the photo chosen in File > Colours From Photo")
        layout.addWidget(self.reference_label)
        self.from_reference = [Swatch() for _ in range(SUGGESTIONS)]
        self.reference_row = QWidget()
        self.reference_row.setLayout(self._row(self.from_reference))
        layout.addWidget(self.reference_row)
        self.set_reference_colours([])
        layout.addWidget(QLabel("In your hints"))
        self.hinted = [Swatch() for _ in range(HINTED)]
        layout.addLayout(self._row(self.hinted))
        layout.addWidget(QLabel("Recently used"))
        self.recent = [Swatch() for _ in range(MAX_RECENT)]
        grid = QGridLayout()
        for i, swatch in enumerate(self.recent):
            grid.addWidget(swatch, i // 5, i % 5)
        layout.addLayout(grid)
        for swatch in self.suggested + self.here + self.from_reference + self.hinted + self.recent:
            swatch.chosen.connect(self.colour_chosen)

        buttons = QHBoxLayout()
        self.more = QPushButton("More colours...")
        self.more.clicked.connect(self._on_more_clicked)
        self.eyedropper = QPushButton("Eyedropper")
        self.eyedropper.setCheckable(True)
        self.eyedropper.setToolTip("Pick a colour from the colorized image or the original (I)")
        self.eyedropper.toggled.connect(self.eyedropper_toggled)
        buttons.addWidget(self.more)
        buttons.addWidget(self.eyedropper)
        layout.addLayout(buttons)
        self.keep = QPushButton("Keep Colour")
        self.keep.setCheckable(True)
        self.keep.setToolTip("Paint over what must keep the colour it has without hints: another "
                             "hint's colour stops there (K)")
        self.keep.toggled.connect(self.keep_toggled)
        layout.addWidget(self.keep)

        form = QFormLayout()
        self.radius = QDoubleSpinBox()
        self.radius.setRange(RADIUS_MIN, RADIUS_MAX)
        self.radius.setSingleStep(1.0)
        self.radius.setDecimals(1)
        self.radius.setSuffix(" px")
        self.radius.setToolTip("Brush radius in image pixels ([ and ] change it)")
        self.radius.valueChanged.connect(self.radius_changed)
        # Return ends the edit: otherwise the box kept the keyboard, and [, ] and Ctrl+Z went
        # into its text until the user found Tab.
        self.radius.editingFinished.connect(self.radius.clearFocus)
        form.addRow("Brush radius", self.radius)
        self.saturation = QSlider(Qt.Orientation.Horizontal)
        self.saturation.setRange(0, 200)
        self.saturation.setValue(100)
        self.saturation.setToolTip("Scales the colour of the shown and saved result")
        self.saturation.valueChanged.connect(lambda v: self.saturation_changed.emit(v / 100.0))
        self.saturation_label = QLabel()
        self.saturation_label.setMinimumWidth(self.saturation_label.fontMetrics().horizontalAdvance("200 %"))
        self.saturation.valueChanged.connect(lambda v: self.saturation_label.setText(f"{v} %"))
        self.saturation_label.setText(f"{self.saturation.value()} %")
        row = QHBoxLayout()
        row.addWidget(self.saturation, 1)
        row.addWidget(self.saturation_label)
        form.addRow("Saturation", row)
        layout.addLayout(form)

        status = QHBoxLayout()
        self.engine_label = QLabel("Engine: starting...")
        self.engine_label.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # an indeterminate "working" bar
        self.busy.setMaximumWidth(60)
        self.busy.setTextVisible(False)
        self.busy.hide()
        status.addWidget(self.engine_label, 1)
        status.addWidget(self.busy)
        layout.addLayout(status)
        layout.addStretch()
        self._recent = RecentColours(MAX_RECENT)

    @staticmethod
    def _row(swatches: list[Swatch]) -> QHBoxLayout:
        row = QHBoxLayout()
        for swatch in swatches:
            row.addWidget(swatch)
        row.addStretch()
        return row

    @Slot()
    def _on_more_clicked(self) -> None:
        start = QColor(*(self.current.colour or DEFAULT_COLOUR))
        colour = QColorDialog.getColor(start, self, "Hint colour")
        if colour.isValid():
            self.colour_chosen.emit((colour.red(), colour.green(), colour.blue()))

    def set_current(self, colour: Color, keep: bool = False) -> None:
        """The brush's colour; with ``keep`` (the Keep Colour tool) none: the swatch is hatched
        as keep hints are drawn, so nobody thinks they still paint the last colour."""
        self.current.set_colour(colour)
        if keep:
            self.current.setStyleSheet(KEEP_SWATCH_STYLE)
            self.current.setToolTip("Keep Colour: what you paint keeps the colour it has without hints")

    def set_suggested(self, colours: list[Color]) -> None:
        """The colours suggested for the photo; greys alone are not offered: the row is greyed
        and says why (a walk-through saw five greys offered under Levin's engine)."""
        only_greys = bool(colours) and all_grey(colours)
        colours = [] if only_greys else colours
        self.suggested_label.setEnabled(not only_greys)
        self.suggested_label.setToolTip(SUGGESTED_NONE_TIP if only_greys else SUGGESTED_TIP)
        for swatch, colour in zip(self.suggested, list(colours)[:SUGGESTIONS] + [None] * SUGGESTIONS):
            swatch.set_colour(colour)

    def set_here(self, found: list[tuple[Color, float]] | None, why_none: str = "") -> None:
        """The colours likely where the user points, each with its share of the network's
        belief there; None: none are offered, for the reason ``why_none`` says."""
        # Greyed, not retitled: a longer title widened the dock, and every pane shrank with it.
        self.here_label.setEnabled(found is not None)
        self.here_label.setToolTip(HERE_TIP + ("" if found is not None else f" {why_none}".rstrip()))
        found = list(found or [])[:POINT_SUGGESTIONS]
        for i, swatch in enumerate(self.here):
            swatch.set_colour(found[i][0] if i < len(found) else None)
            if i < len(found):
                swatch.setToolTip(f"{swatch.toolTip()}: {found[i][1]:.0%} likely there")

    def set_reference_colours(self, colours: list[Color]) -> None:
        """The reference photo's colours; the row is hidden when there is no reference."""
        for swatch, colour in zip(self.from_reference, list(colours)[:SUGGESTIONS] + [None] * SUGGESTIONS):
            swatch.set_colour(colour)
        self.reference_label.setVisible(bool(colours))
        self.reference_row.setVisible(bool(colours))

    def set_hinted(self, colours: list[Color]) -> None:
        for swatch, colour in zip(self.hinted, list(colours)[:HINTED] + [None] * HINTED):
            swatch.set_colour(colour)

    def add_recent(self, colour: Color) -> None:
        self._recent.use(colour)
        self._show_recent()

    def recent_text(self) -> list[str]:
        """The recent colours as the settings keep them (``RecentColours.to_text``)."""
        return self._recent.to_text()

    def restore_recent(self, entries: object) -> None:
        self._recent.restore(entries)
        self._show_recent()

    def _show_recent(self) -> None:
        for swatch, c in zip(self.recent, self._recent.colours):
            swatch.set_colour(c)

"""Image canvases that zoom and pan together; the hint canvas also takes the brush.

All positions handed out are image pixel coordinates (never widget pixels), so hints
stay correct at any zoom.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from colorme_desktop.core.color import fit_size
from colorme_desktop.core.document import DEFAULT_COLOUR, RADIUS_DEFAULT, Tool
from colorme_desktop.core.hints import Hint

__all__ = ["HintCanvas", "ImageCanvas", "Tool", "ViewState", "checker_overlay", "qimage_view"]

# A hint smaller than this on screen (radius, screen pixels) is still drawn this large,
# or a one-pixel hint at a zoomed-out view could be neither seen nor clicked.
MIN_MARKER_RADIUS = 1.5
# A keep hint's marker: translucent white, then black hatching (``HintCanvas._paint_hint``).
KEEP_FILLS = [QBrush(QColor(255, 255, 255, 150)), QBrush(QColor(0, 0, 0), Qt.BrushStyle.BDiagPattern)]
# An image this many device pixels larger or smaller than the place it covers is drawn
# unscaled: its edges a pixel off beat every pixel resampled.
ONE_TO_ONE_SLACK = 2.0
LABEL_CLEARANCE = 24  # widget pixels around a pane's title within which the mouse hides it
# A photo's transparent parts are drawn over with a checkerboard, made once per photo at
# most this long side (its squares CHECKER_PX of those pixels): shown white, they could not
# be told from white paper (a walk-through).  The photo and results keep white there.
CHECKER_MAX_SIDE = 1024
CHECKER_PX = 8
CHECKER_LIGHT, CHECKER_DARK = 204, 153


def checker_overlay(alpha: np.ndarray) -> np.ndarray:
    """(h, w, 4) RGBA: a grey checkerboard, as opaque as ``alpha`` (H, W) is transparent,
    at most ``CHECKER_MAX_SIDE`` on the long side."""
    size = fit_size(alpha.shape, CHECKER_MAX_SIDE)
    small = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA) if size != alpha.shape[::-1] else alpha
    rows, cols = np.indices(small.shape)
    light = ((rows // CHECKER_PX + cols // CHECKER_PX) % 2 == 0)
    grey = np.where(light, CHECKER_LIGHT, CHECKER_DARK).astype(np.uint8)
    return np.ascontiguousarray(np.dstack([grey, grey, grey, 255 - small]))


def qimage_view(array: np.ndarray) -> QImage:
    """An (H, W) grey or (H, W, 3) RGB uint8 array as a QImage over the same memory.

    No copy: a copy of a 24 MP photo, of its Original pane and of its result is 72 MB
    each, and the result's came on top of the file being encoded at the peak of a save.
    The caller keeps ``array`` alive and unchanged while the image is in use
    (``ImageCanvas.show_array`` does).
    """
    h, w = array.shape[:2]
    grey = array.ndim == 2
    return QImage(array.data, w, h, array.strides[0],
                  QImage.Format.Format_Grayscale8 if grey else QImage.Format.Format_RGB888)


class ViewState(QObject):
    """Zoom and centre shared by the canvases so they move as one."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.zoom = 1.0
        self.centre = QPointF(0, 0)  # image coordinates at the widget centre
        self.fit = True

    def set(self, zoom: float | None = None, centre: QPointF | None = None, fit: bool = False) -> None:
        if zoom is not None:
            self.zoom = float(min(max(zoom, 0.02), 32.0))
        if centre is not None:
            self.centre = QPointF(centre)
        self.fit = fit
        self.changed.emit()


class ImageCanvas(QWidget):
    """Shows one image under the shared view; wheel zooms with Ctrl, middle button pans."""

    picked = Signal(float, float)  # eyedropper click, image coordinates
    hovered = Signal(float, float)  # the mouse moved over the photo, image coordinates
    paint_refused = Signal()  # a paint click on a pane that only shows (hints go on the grey photo)
    scale_changed = Signal(float)  # screen pixels per image pixel, whenever it changes

    def __init__(self, view: ViewState, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.title = title
        self.image: QImage | None = None
        self._pixels: np.ndarray | None = None  # the memory ``image`` shows, when it is an array's
        self._size = QSize()  # the photo's size in image pixels; the image may be a smaller preview
        self._checker: QImage | None = None  # over the photo's transparent parts (``set_transparency``)
        self._checker_pixels: np.ndarray | None = None  # the memory ``_checker`` shows
        self.notice = ""  # what is happening (e.g. "Colorizing..."), drawn over the image
        self.tool = Tool.PAINT
        self._pan_from: QPointF | None = None
        self._hover: QPointF | None = None  # where the mouse is over the canvas (widget coordinates)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a click on the photo takes the keys from a text box
        self._last_scale = 0.0
        view.changed.connect(self._on_view_changed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        # The same hint for every canvas: the splitter then gives the panes equal room.
        return QSize(400, 300)

    def show_array(self, array: np.ndarray, size: tuple[int, int] | None = None) -> None:
        """Show an (H, W) grey or (H, W, 3) RGB uint8 array without copying it; it must not
        be written to while shown (the document's photos and results never are)."""
        array = np.ascontiguousarray(array)
        self.set_image(qimage_view(array), size)
        self._pixels = array  # the image reads this memory: kept while it is shown

    def set_image(self, image: QImage | None, size: tuple[int, int] | None = None) -> None:
        """Show ``image`` covering a photo of ``size`` = (width, height) image pixels.

        A result made at screen resolution is drawn over the whole photo, so it lines up
        with the other panes and positions stay in image pixels.
        """
        self.image = image
        self._pixels = None
        self._size = QSize(*size) if size is not None else (image.size() if image is not None else QSize())
        self._on_view_changed()

    def image_size(self) -> QSize:
        return self._size

    def set_transparency(self, checker: np.ndarray | None) -> None:
        """``checker_overlay`` of the photo's opacity, or None: its transparent parts are drawn
        with a checkerboard over whatever image the canvas shows.  Made once by the caller for
        all the panes (a resize of a 24 MP photo's opacity each)."""
        if checker is None:
            self._checker = self._checker_pixels = None
        else:
            self._checker_pixels = np.ascontiguousarray(checker)
            h, w = self._checker_pixels.shape[:2]
            self._checker = QImage(self._checker_pixels.data, w, h, self._checker_pixels.strides[0],
                                   QImage.Format.Format_RGBA8888)
        self.update()

    def set_notice(self, text: str) -> None:
        if text != self.notice:
            self.notice = text
            self.update()

    def _on_view_changed(self) -> None:
        self.update()
        scale = self.scale() if self.image is not None else 0.0
        if scale != self._last_scale:
            self._last_scale = scale
            self.scale_changed.emit(scale)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._on_view_changed()  # a fitted image changes scale with the widget

    # ------------------------------------------------------------ geometry
    def scale(self) -> float:
        if self.view.fit and self.image is not None:
            return min(self.width() / max(1, self._size.width()), self.height() / max(1, self._size.height()))
        return self.view.zoom

    def centre(self) -> QPointF:
        if self.view.fit and self.image is not None:
            return QPointF(self._size.width() / 2, self._size.height() / 2)
        return self.view.centre

    def to_image(self, pos: QPointF) -> QPointF:
        s = self.scale()
        c = self.centre()
        return QPointF((pos.x() - self.width() / 2) / s + c.x(), (pos.y() - self.height() / 2) / s + c.y())

    def to_widget(self, x: float, y: float) -> QPointF:
        s = self.scale()
        c = self.centre()
        return QPointF((x - c.x()) * s + self.width() / 2, (y - c.y()) * s + self.height() / 2)

    def image_rect(self) -> QRectF:
        if self.image is None:
            return QRectF()
        top_left = self.to_widget(0, 0)
        s = self.scale()
        return QRectF(top_left.x(), top_left.y(), self._size.width() * s, self._size.height() * s)

    def _one_image_pixel_per_screen_pixel(self, target: QRectF) -> bool:
        """Whether ``image`` covers ``target`` at one of its pixels per device pixel, give or take
        ONE_TO_ONE_SLACK device pixels."""
        dpr = self.devicePixelRatioF()
        return (abs(target.width() * dpr - self.image.width()) <= ONE_TO_ONE_SLACK
                and abs(target.height() * dpr - self.image.height()) <= ONE_TO_ONE_SLACK)

    # ------------------------------------------------------------ painting
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window().color().darker(115))
        if self.image is None:
            painter.setPen(self.palette().text().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             self.notice or "Open a photo (Ctrl+O) or drop one here")
            return
        target = self.image_rect()
        one_to_one = self._one_image_pixel_per_screen_pixel(target)
        if one_to_one:
            # A result made at the size it is shown: each of its pixels on one screen pixel,
            # centred where the photo is.  Drawn at a fraction of a pixel's offset, or a
            # pixel larger (476 px over 475: the pane had changed by one), every pixel was
            # resampled, and that alone made the first colour softer than the photo.
            dpr = self.devicePixelRatioF()
            left = round(target.center().x() * dpr - self.image.width() / 2) / dpr
            top = round(target.center().y() * dpr - self.image.height() / 2) / dpr
            target = QRectF(left, top, self.image.width() / dpr, self.image.height() / dpr)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not one_to_one and self.scale() < 2.0)
        painter.drawImage(target, self.image)
        if self._checker is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self._checker)
        self.paint_overlay(painter)
        # A dark label box keeps the title readable over any photo or background; it steps
        # aside while the mouse is near it, where it hid the corner of the photo being painted
        # and the hints there (a walk-through).
        painter.setPen(QColor(255, 255, 255))
        if not self._title_in_the_way(self._hover):
            label = self._title_rect()
            painter.fillRect(label, QColor(0, 0, 0, 150))
            painter.drawText(label, Qt.AlignmentFlag.AlignCenter, self.title)
        if self.notice:
            box = painter.fontMetrics().boundingRect(self.notice).adjusted(-10, -6, 10, 6)
            box.moveCenter(self.rect().center())
            painter.fillRect(box, QColor(0, 0, 0, 170))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.notice)

    def paint_overlay(self, painter: QPainter) -> None:
        """Hook for canvases that draw on top of the image."""

    def _title_rect(self) -> QRect:
        label = self.fontMetrics().boundingRect(self.title).adjusted(-6, -3, 6, 3)
        label.moveTopLeft(QPoint(6, 6))
        return label

    def _title_in_the_way(self, mouse: QPointF | None) -> bool:
        """Whether the mouse at ``mouse`` is near enough the title for it to step aside."""
        clear = QRectF(self._title_rect()).adjusted(-LABEL_CLEARANCE, -LABEL_CLEARANCE,
                                                     LABEL_CLEARANCE, LABEL_CLEARANCE)
        return mouse is not None and clear.contains(mouse)

    # ------------------------------------------------------------ zoom and pan
    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.zoom_to(self.scale() * factor, anchor)

    def zoom_to(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` keeping the image point under ``anchor`` (widget coordinates;
        the widget's centre if None) where it is."""
        if self.image is None:
            return
        anchor = anchor or QPointF(self.width() / 2, self.height() / 2)
        before = self.to_image(anchor)
        self.view.set(zoom=zoom, centre=self.centre())
        after = self.to_image(anchor)
        self.view.set(centre=self._within(self.view.centre + (before - after), self.view.zoom))

    def _within(self, centre: QPointF, zoom: float) -> QPointF:
        """``centre`` moved so the photo stays on the pane: along an axis where it fits whole
        it stays centred, elsewhere its edge stops at the pane's.  Held at the mouse in a zoom,
        or scrolled by the wheel, part of it went off the pane with no scroll bar to bring it
        back, or the pane showed an empty band beside it (two walk-throughs)."""
        out = QPointF(centre)
        for value, put, size, pane in ((out.x(), out.setX, self._size.width(), self.width()),
                                       (out.y(), out.setY, self._size.height(), self.height())):
            half = pane / 2 / zoom  # image pixels from the pane's centre to its edge
            put(size / 2 if size <= 2 * half else min(max(value, half), size - half))
        return out

    def mouse_anchor(self) -> QPointF | None:
        """Where the mouse is over this canvas's photo (widget coordinates), or None when it is
        elsewhere (on a menu, say): a zoom by key keeps what is under the mouse there, as
        the wheel does."""
        return self._hover if self.image is not None and self.isVisible() else None

    def _inside(self, p: QPointF) -> bool:
        return self.image is not None and 0 <= p.x() <= self._size.width() and 0 <= p.y() <= self._size.height()

    def _track_hover(self, pos: QPointF | None) -> bool:
        """Note where the mouse is (None: it left); repaint if the title steps aside or back.
        True when it did repaint."""
        was_near_title = self._title_in_the_way(self._hover)
        moved = pos != self._hover
        self._hover = pos
        if moved and pos is not None and self._inside(at := self.to_image(pos)):
            self.hovered.emit(at.x(), at.y())
        if was_near_title != self._title_in_the_way(pos):
            self.update()
            return True
        return False

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        self._track_hover(None)
        super().leaveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(1.25 ** steps, event.position())
        else:
            s = self.scale()
            delta = QPointF(-event.angleDelta().x(), -event.angleDelta().y()) / s / 2
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                delta = QPointF(delta.y(), delta.x())
            self.view.set(zoom=s, centre=self._within(self.centre() + delta, s))
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.tool == Tool.EYEDROPPER and self.image:
            p = self.to_image(event.position())
            self.picked.emit(p.x(), p.y())
        elif event.button() == Qt.MouseButton.LeftButton and self.tool.paints and self.image:
            self.paint_refused.emit()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._track_hover(event.position())
        if self._pan_from is not None:
            delta = (event.position() - self._pan_from) / self.scale()
            self._pan_from = event.position()
            self.view.set(zoom=self.scale(), centre=self._within(self.centre() - delta, self.scale()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = None


class HintCanvas(ImageCanvas):
    """The grey image with the hints on top.

    Paint tool: a click paints a point, a drag a stroke.  Select tool: a click selects the
    hint under the mouse and a drag moves it.  The brush outline follows the mouse at the
    brush's true radius, in the brush's colour.
    """

    stroke_changed = Signal(list)  # points so far (image coords), while dragging
    stroke_finished = Signal(list)  # points of the finished stroke
    remove_requested = Signal(float, float)
    select_requested = Signal(float, float)
    move_changed = Signal(float, float)  # offset so far of the selected hint, image pixels
    move_finished = Signal(float, float)

    def __init__(self, view: ViewState, title: str, parent: QWidget | None = None) -> None:
        super().__init__(view, title, parent)
        self.hints: tuple[Hint, ...] = ()
        self.selected: int | None = None
        # Off: the markers are not drawn (they hide the photo under them); hints still work.
        self.hints_visible = True
        self.brush_radius = RADIUS_DEFAULT
        self.brush_colour = DEFAULT_COLOUR
        self._stroke: list[tuple[float, float]] | None = None
        self._move_from: QPointF | None = None
        self.setCursor(Qt.CursorShape.CrossCursor)

    def set_hints(self, hints: tuple[Hint, ...], selected: int | None = None) -> None:
        self.hints = hints
        self.selected = selected
        self.update()

    def set_hints_visible(self, visible: bool) -> None:
        self.hints_visible = visible
        self.update()

    def set_brush(self, colour: tuple[int, int, int], radius: float) -> None:
        self.brush_colour = colour
        self.brush_radius = radius
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        p = self.to_image(event.position())
        if event.button() == Qt.MouseButton.RightButton and self.image is not None:
            self.remove_requested.emit(p.x(), p.y())
            return
        if event.button() == Qt.MouseButton.LeftButton and self.tool == Tool.SELECT and self.image is not None:
            self.select_requested.emit(p.x(), p.y())
            if self.selected is not None:  # the receiver selected a hint: a drag moves it
                self._move_from = p
            return
        if event.button() == Qt.MouseButton.LeftButton and self.tool.paints and self._inside(p):
            self._stroke = [(p.x(), p.y())]
            self.stroke_changed.emit(list(self._stroke))
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not self._track_hover(event.position()) and self.tool.paints:
            self.update()  # the brush outline follows the mouse
        if self._move_from is not None:
            offset = self.to_image(event.position()) - self._move_from
            self.move_changed.emit(offset.x(), offset.y())
            return
        if self._stroke is not None and self.image is not None:
            p = self.to_image(event.position())
            x = min(max(p.x(), 0.0), float(self._size.width()))
            y = min(max(p.y(), 0.0), float(self._size.height()))
            last = self._stroke[-1]
            # Skip points closer than a screen pixel: they add size, not shape.
            if abs(x - last[0]) + abs(y - last[1]) >= 1.0 / self.scale():
                self._stroke.append((x, y))
                self.stroke_changed.emit(list(self._stroke))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self._move_from is not None:
            offset = self.to_image(event.position()) - self._move_from
            self._move_from = None
            self.move_finished.emit(offset.x(), offset.y())
            return
        if event.button() == Qt.MouseButton.LeftButton and self._stroke is not None:
            points, self._stroke = self._stroke, None
            self.stroke_finished.emit(points)
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        super().leaveEvent(event)
        self.update()  # the brush outline goes

    def marker_radius(self, hint: Hint) -> float:
        """On-screen radius of a hint's painted area: true size, never below the minimum."""
        return max(hint.radius * self.scale(), MIN_MARKER_RADIUS)

    def paint_overlay(self, painter: QPainter) -> None:
        painter.save()
        # Only the photo takes paint: a marker past its edge (a 3 x 3 photo's 4 px brush
        # covered the whole pane, a walk-through) showed colour where none goes.
        painter.setClipRect(self.image_rect())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for index, hint in enumerate(self.hints if self.hints_visible else ()):
            self._paint_hint(painter, hint, index == self.selected)
        if (self.tool.paints and self._hover is not None and self._stroke is None
                and self._inside(self.to_image(self._hover))):  # only where a click would paint
            self._paint_brush_outline(painter, self._hover)
        painter.restore()

    def _hint_path(self, hint: Hint) -> QPainterPath:
        path = QPainterPath()
        path.moveTo(self.to_widget(*hint.points[0]))
        for x, y in hint.points[1:]:
            path.lineTo(self.to_widget(x, y))
        return path

    def _paint_hint(self, painter: QPainter, hint: Hint, selected: bool) -> None:
        radius = self.marker_radius(hint)
        # One-pixel rings just outside the painted area (dark, then light) keep the marker
        # visible on any photo while adding only two pixels to its true size.
        rings = [(QColor(255, 200, 0), 3.0)] if selected else [(QColor(0, 0, 0), 2.0), (QColor(255, 255, 255), 1.0)]
        # A keep hint has no colour to show: black hatching on white, the photo's grey
        # half seen through, marks where the colour is held.
        fills = KEEP_FILLS if hint.keep else [QBrush(QColor(*hint.color))]
        layers = [*((QBrush(colour), extra) for colour, extra in rings), *((fill, 0.0) for fill in fills)]
        if hint.is_point:
            centre = self.to_widget(*hint.points[0])
            painter.setPen(Qt.PenStyle.NoPen)
            for fill, extra in layers:
                painter.setBrush(fill)
                painter.drawEllipse(centre, radius + extra, radius + extra)
            return
        path = self._hint_path(hint)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for fill, extra in layers:
            painter.setPen(self._round_pen(fill, 2 * (radius + extra)))
            painter.drawPath(path)

    def _paint_brush_outline(self, painter: QPainter, centre: QPointF) -> None:
        radius = max(self.brush_radius * self.scale(), MIN_MARKER_RADIUS)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        inner = QColor(255, 255, 255) if self.tool == Tool.KEEP else QColor(*self.brush_colour)
        for colour, width in ((QColor(0, 0, 0), 4.0), (inner, 2.0)):
            pen = QPen(colour, width)
            if self.tool == Tool.KEEP and colour == inner:
                pen.setStyle(Qt.PenStyle.DashLine)  # no colour: a dashed white ring on black
            painter.setPen(pen)
            painter.drawEllipse(centre, radius, radius)

    @staticmethod
    def _round_pen(fill: QBrush, width: float) -> QPen:
        pen = QPen(fill, width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        return pen

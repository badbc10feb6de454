"""Colour conversion that keeps the input luminance exact.

We work in full-range YCbCr (ITU-R BT.601, as JPEG uses it).  Y is computed with the
same integer formula Pillow uses for ``convert("L")`` so a colorized result converted
back to grey matches the grey the user opened.  Chroma is kept as float32 in grey-level
units, centred on zero (roughly -128..128).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from colorme_desktop.core.metrics import colourfulness

# The one home of the BT.601 constants (training's torch versions use these too).
# Y's weights; ``luma`` uses Pillow's integer form of them, 19595 / 65536 and so on.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# Forward matrix rows for Cb and Cr.
CB_FROM_RGB = (-0.168736, -0.331264, 0.5)
CR_FROM_RGB = (0.5, -0.418688, -0.081312)
# How much each of R, G, B moves per unit of Cb and Cr.
RGB_PER_CB = (0.0, -0.344136, 1.772)
RGB_PER_CR = (1.402, -0.714136, 0.0)
_CB = np.array(CB_FROM_RGB, dtype=np.float32)
_CR = np.array(CR_FROM_RGB, dtype=np.float32)
_FROM_CB = np.array(RGB_PER_CB, dtype=np.float32)
_FROM_CR = np.array(RGB_PER_CR, dtype=np.float32)


# Pixels converted at a time by ``luma`` and ``add_chroma_of``: a float (or 32-bit integer)
# copy of a whole 24 MP photo is 288 MB, and opening one peaked there.
CHROMA_BAND_PIXELS = 2**20


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma as uint8, bit-identical to Pillow's ``Image.convert("L")``."""
    out = np.empty(rgb.shape[:-1], dtype=np.uint8)
    rows = max(1, CHROMA_BAND_PIXELS // max(1, int(np.prod(rgb.shape[1:-1]))))
    for top in range(0, rgb.shape[0], rows):
        band = rgb[top:top + rows].astype(np.uint32)
        y = band[..., 0] * 19595
        y += band[..., 1] * 38470
        y += band[..., 2] * 7471
        y += 0x8000
        y >>= 16
        out[top:top + rows] = y
    return out


def chroma_of(rgb: np.ndarray) -> np.ndarray:
    """Cb and Cr of an RGB image (H, W, 3) as float32 (H, W, 2), zero for grey."""
    return add_chroma_of(np.zeros((*rgb.shape[:-1], 2), dtype=np.float32), rgb)


def add_chroma_of(chroma: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """``chroma`` (float32, (H, W, 2)) plus the Cb and Cr of ``rgb`` (H, W, 3), in place."""
    # An (N, 3) list of colours is one band; an image goes in bands of whole rows.
    rows = max(1, CHROMA_BAND_PIXELS // max(1, rgb.shape[1])) if rgb.ndim == 3 else max(1, len(rgb))
    for top in range(0, len(rgb), rows):
        band = rgb[top:top + rows].astype(np.float32)
        chroma[top:top + rows, ..., 0] += band @ _CB
        chroma[top:top + rows, ..., 1] += band @ _CR
    return chroma


# A table over chroma (``keep_by_colour``): one entry per whole level of Cb and of Cr,
# from -CHROMA_TABLE_HALF to CHROMA_TABLE_HALF - 1 (the YCbCr range is -128 to 127.5).
CHROMA_TABLE_HALF = 128


def _chroma_table_index(chroma: np.ndarray) -> np.ndarray:
    """Each chroma's (..., 2) flat index into a (256, 256) table over Cb and Cr, rounded."""
    index = np.clip(chroma + (CHROMA_TABLE_HALF + 0.5), 0, 2 * CHROMA_TABLE_HALF - 0.5).astype(np.int32)
    return index[..., 0] * (2 * CHROMA_TABLE_HALF) + index[..., 1]


def shares_by_colour(rgb: np.ndarray, grey: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table`` (B, 256, 256) looked up at each pixel of ``rgb`` (H, W, 3) by its own chroma
    and ``grey`` level: (H, W) float32.  B tables over Cb and Cr for grey levels spread
    evenly over 0-255, interpolated between.  For a whole 24 MP photo, ``keep_by_colour``
    goes in bands."""
    bins, plane = table.shape[0], table.shape[1] * table.shape[2]
    flat = np.ascontiguousarray(table).reshape(-1)  # looked up as it is: no float32 copy per call
    index = _chroma_table_index(chroma_of(rgb))
    level = grey.astype(np.float32) * ((bins - 1) / 255.0)
    below = np.minimum(level.astype(np.int32), bins - 2)
    above = level - below
    share = flat.take(below * plane + index).astype(np.float32)
    share *= 1.0 - above
    share += above * flat.take((below + 1) * plane + index)
    return share


def keep_by_colour(change: np.ndarray, rgb: np.ndarray, grey: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``change`` (H, W, 2) times its pixels' ``shares_by_colour``, in place, in bands (a
    whole 24 MP chroma would be 192 MB more); then the edges' pass (``_share_at_edges``)."""
    rows = max(1, CHROMA_BAND_PIXELS // max(1, rgb.shape[1]))
    kept = np.empty(rgb.shape[:2], np.uint8)  # each pixel's share, 0-255, for the edges' pass
    for top in range(0, len(rgb), rows):
        keep = shares_by_colour(rgb[top:top + rows], grey[top:top + rows], table)
        change[top:top + rows] *= keep[..., None]
        kept[top:top + rows] = np.round(keep * 255.0)
    _share_at_edges(change, rgb, kept)
    return change


# A thing's edge pixels are a mixture of its colour and its neighbour's.  Judged by colour
# alone they are neither, so a blue jacket painted red kept a blue outline one or two
# pixels wide (a walk-through, session 16).  Such a pixel takes the share of its
# kept neighbours' change that its colour says it holds of them: the projection of its
# chroma on the line from the other thing's colour to the one painted on.
EDGE_KEPT = 230  # of 255: a neighbour this kept is the thing painted on
EDGE_NOT_KEPT = 25  # ... this little, and as far from anything more kept, the other thing
EDGE_LEAST_CHANGE = 0.5  # grey levels of change (|Cb| + |Cr|) below which there is nothing to share
EDGE_OFF_LINE = 12.0  # grey levels off that line: a third colour, not a mixture; left as it is
EDGE_REACH = 2  # pixels from the thing: an edge a pixel or two wide
# The other thing is judged this far off, from pixels as far from anything kept: the
# edge's own mixed pixels keep none of the change either, and would pull its colour in.
EDGE_OTHER_REACH = 3


def _window_sums(values: np.ndarray, reach: int) -> np.ndarray:
    """Sum of ``values`` (H, W) or (H, W, C) float32 over the (2 reach + 1)^2 window at each pixel."""
    size = 2 * reach + 1
    return cv2.boxFilter(values, -1, (size, size), normalize=False, borderType=cv2.BORDER_CONSTANT)


def _share_at_edges(change: np.ndarray, rgb: np.ndarray, kept: np.ndarray) -> None:
    """Edge pixels between what keeps a change whole and what keeps none of it (``kept``,
    0-255) take the share of their whole neighbours' ``change`` that their colour is a
    mixture of, in place; in bands of rows, as ``keep_by_colour`` goes (a 24 MP photo's
    whole chroma would be 192 MB)."""
    margin = EDGE_REACH + EDGE_OTHER_REACH  # rows beyond a band that its pixels' verdicts read
    rows = max(1, CHROMA_BAND_PIXELS // max(1, rgb.shape[1]))
    for top in range(0, len(rgb), rows):
        start, stop = max(0, top - margin), min(len(rgb), top + rows + margin)
        _share_in_band(change[start:stop], rgb[start:stop], kept[start:stop], top - start,
                       min(rows, len(rgb) - top))


def _share_in_band(change: np.ndarray, rgb: np.ndarray, kept: np.ndarray, first: int, count: int) -> None:
    """``_share_at_edges`` for rows ``first`` to ``first + count`` of these, the rest read only.

    Window sums, then arithmetic on the edge pixels alone: gathering each one's neighbours
    took 48 ms a draft on a 0.2 MP preview."""
    # The thing painted on, where the change reached it at all: textured ground far from the
    # hint has edges everywhere and nothing to share (a 24 MP save took 0.5 s more).
    moved = np.abs(change[..., 0]) + np.abs(change[..., 1]) > EDGE_LEAST_CHANGE
    thing = ((kept >= EDGE_KEPT) & moved).astype(np.uint8)
    apart = np.ones((2 * EDGE_REACH + 1,) * 2, np.uint8)
    other = cv2.erode((kept <= EDGE_NOT_KEPT).astype(np.uint8), apart, borderType=cv2.BORDER_REPLICATE)
    near = cv2.dilate(thing, apart) & cv2.dilate(other, np.ones((2 * EDGE_OTHER_REACH + 1,) * 2, np.uint8))
    near[:first] = 0
    near[first + count:] = 0
    rows, cols = np.nonzero(near & (kept < EDGE_KEPT))
    if not len(rows):
        return
    # Only around the edges (a recoloured jacket is a small part of the photo).
    top, left = max(0, int(rows.min()) - EDGE_OTHER_REACH), max(0, int(cols.min()) - EDGE_OTHER_REACH)
    box = np.s_[top:int(rows.max()) + EDGE_OTHER_REACH + 1, left:int(cols.max()) + EDGE_OTHER_REACH + 1]
    change = change[box]  # a view: the change is still written in place
    at = (rows - top, cols - left)
    colours = chroma_of(rgb[box])
    thing = thing[box].astype(np.float32)
    other = other[box].astype(np.float32)
    things = _window_sums(thing, EDGE_REACH)[at][:, None]
    thing_colour = _window_sums(colours * thing[..., None], EDGE_REACH)[at] / things
    thing_change = _window_sums(np.ascontiguousarray(change) * thing[..., None], EDGE_REACH)[at] / things
    other_colour = (_window_sums(colours * other[..., None], EDGE_OTHER_REACH)[at]
                    / _window_sums(other, EDGE_OTHER_REACH)[at][:, None])
    own = colours[at]
    line = thing_colour - other_colour
    length2 = np.maximum((line ** 2).sum(axis=1), 1e-6)
    mixed = np.clip(((own - other_colour) * line).sum(axis=1) / length2, 0.0, 1.0)
    off_line = np.linalg.norm(own - (other_colour + mixed[:, None] * line), axis=1)
    # Under 1 %, a pixel is the other thing itself, give or take the sums' rounding.
    usable = (off_line <= EDGE_OFF_LINE) & (length2 >= EDGE_OFF_LINE ** 2) & (mixed >= 0.01)
    shared = mixed[:, None] * thing_change
    # Never less than the pixel already takes: the table's own verdict stands where it gave more.
    larger = usable & ((shared ** 2).sum(axis=1) > (change[at] ** 2).sum(axis=1))
    change[at[0][larger], at[1][larger]] = shared[larger]


def chroma_size(chroma: np.ndarray) -> np.ndarray:
    """How far each pixel of a chroma (or a chroma change) (H, W, 2) is from grey (from none)."""
    return cv2.magnitude(np.ascontiguousarray(chroma[..., 0]), np.ascontiguousarray(chroma[..., 1]))


def chroma_of_color(color: tuple[int, int, int]) -> tuple[float, float]:
    rgb = np.asarray(color, dtype=np.float32)
    return float(rgb @ _CB), float(rgb @ _CR)


class ColourError(ValueError):
    """Colour that cannot be turned into an image (not a number); the message is for the user."""


def compose(grey: np.ndarray, chroma: np.ndarray, saturation: float = 1.0,
            photo: np.ndarray | None = None) -> np.ndarray:
    """Combine the grey image with chroma into RGB uint8, keeping the luminance.

    Chroma that would push a channel outside 0..255 is scaled toward grey for that pixel
    alone; clipping a channel instead would change the pixel's luminance.
    NaN would become black silently, so non-finite chroma or saturation is refused.

    ``photo``: the colour photo whose luma ``grey`` is (recolouring).  Where ``chroma`` is
    exactly its own and ``saturation`` is 1, its pixels are used as they are: the way through
    an 8-bit grey and back rounds 0.1-3 % of a photo's pixels by 1-4 levels, and what no
    hint reached is to keep its colour to the pixel.
    """
    if not math.isfinite(saturation) or saturation < 0:
        raise ColourError(f"saturation must be a finite number of at least 0, not {saturation}")
    # One sum finds any NaN or infinity without a mask the size of the image.
    if not math.isfinite(float(chroma.sum(dtype=np.float64))):
        raise ColourError("the colour computed for this image is not a number (NaN or infinite)")
    out = np.empty((*grey.shape, 3), dtype=np.uint8)
    # In bands of rows: the float32 temporaries then stay in the CPU cache; measured 1.8x
    # faster on a 12 MP photo (2.2 s -> 1.2 s on a busy 2-core machine), the same bytes out.
    for top in range(0, grey.shape[0], _COMPOSE_ROWS):
        rows = slice(top, top + _COMPOSE_ROWS)
        out[rows] = _compose_band(grey[rows], chroma[rows], saturation)
        if photo is not None and saturation == 1.0:
            _keep_untouched(out[rows], chroma[rows], photo[rows])
    return out


_COMPOSE_ROWS = 128
# Chroma (grey levels) within which a pixel's is taken for the photo's own: float rounding
# differs between ways of computing it; a change this small rounds to nothing anyway.
UNTOUCHED_TOLERANCE = 1e-3


def _keep_untouched(out: np.ndarray, chroma: np.ndarray, photo: np.ndarray) -> None:
    """``compose``'s rows ``out`` with the photo's own pixels where ``chroma`` is its own."""
    # Only pixels that came out otherwise can need it: a few (the chroma of every pixel
    # took 6x the composing's time).
    differs = cv2.transform(cv2.absdiff(out, photo), np.ones((1, 3), np.float32)) > 0
    ys, xs = np.nonzero(differs)
    if len(ys):
        colours = photo[ys, xs]
        untouched = (np.abs(chroma[ys, xs] - chroma_of(colours)) <= UNTOUCHED_TOLERANCE).all(axis=-1)
        out[ys[untouched], xs[untouched]] = colours[untouched]


def _compose_band(grey: np.ndarray, chroma: np.ndarray, saturation: float) -> np.ndarray:
    y = grey.astype(np.float32)
    cb = chroma[..., 0] * np.float32(saturation)
    cr = chroma[..., 1] * np.float32(saturation)
    # How far chroma moves R, G and B from the grey (three planes, merged at the end).
    deltas = [_FROM_CR[0] * cr, _FROM_CB[1] * cb + _FROM_CR[1] * cr, _FROM_CB[2] * cb]
    # The three move together with one scale, so the channel moved furthest up and the one
    # moved furthest down are the only ones that can leave 0..255 first: the largest scale
    # that keeps the pixel inside follows from those two (and no pixel-by-pixel test of
    # which channels are outside: 3.6 -> 1.1 ms at 520 x 347, the same bytes out to float
    # rounding).  Up is never below 0 and down never above 0 (no chroma lowers all three).
    up = np.maximum(np.maximum(deltas[0], deltas[1]), deltas[2])
    down = np.minimum(np.minimum(deltas[0], deltas[1]), deltas[2])
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.fmin((255.0 - y) / up, y / -down)  # inf (or NaN) where nothing limits it
    np.nan_to_num(scale, copy=False, nan=1.0)
    np.clip(scale, 0.0, 1.0, out=scale)
    out = []
    for delta in deltas:
        plane = y + delta * scale
        np.clip(plane, 0.0, 255.0, out=plane)
        plane += 0.5  # round half up on the conversion below
        out.append(plane.astype(np.uint8))
    return cv2.merge(out)


# Output rows brought to full size at a time by ``upsample_by_colour``.
UPSAMPLE_BAND_ROWS = 32
# RGB distance (grey levels) at which a working pixel's say over a full-size pixel halves in
# ``upsample_by_colour``: shading and texture within one surface stay well inside it.
UPSAMPLE_COLOUR_SOFTNESS = 25.0
# Likeness (0-1) below which a full-size pixel's change shrinks: 0.25 is a distance of one
# softness to the likest of the four working pixels around it.  That likeness is weighed in
# chromaticity (RGB over its sum) and brightness apart, not by the RGB distance: the darker
# seeds in a flower's centre, unlike the averaged working pixels in RGB, kept their orange
# in a centre recoloured green (a walk-through saw the specks), while a red tube across a
# yellow wall or a black cable across a white one still keeps its own colour.
UPSAMPLE_UNLIKE = 0.25
UPSAMPLE_CHROMATICITY_SOFTNESS = 0.15  # seeds against their centre: 0.1; red tube on a yellow wall: 0.43
UPSAMPLE_BRIGHTNESS_SOFTNESS = float(np.log(2.0))  # half or twice as bright is one softness
UPSAMPLE_DARK = 30.0  # added to R + G + B: the chromaticity of a near-black pixel is noise
# Saturation (distance of the chromaticity from grey's, 0-0.8) added to both sides when a
# pixel's is weighed against the colour around it: a white shirt turned blue has no colour
# to compare, and takes all the change.  Yellow is about 0.34, a pale blend of it 0.08.
UPSAMPLE_GREY_SATURATION = 0.03
# Change (grey levels of chroma) below which the four working pixels around a full-size one
# are interpolated plainly: an error of at most about this much, unseen.
UPSAMPLE_AGREE = 1.0


def upsample_by_colour(change: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """A working-size chroma change (h, w, 2) brought to the size of the colour photo ``rgb``.

    Joint bilateral upsampling (Kopf et al. 2007): each full-size pixel takes the change of
    the four working pixels around it, weighted by distance and by how alike their colour
    is to its own, so a change stops at an edge between two colours of the same grey as well
    as at a grey edge.  (Guided by the grey, a recoloured coat tinted the lawn beside it over
    a working pixel's width; a guided filter with a colour guide still smeared the change
    across the working pixel that the edge splits.)  Planes, not (..., 3) arrays: numpy is
    slow along a short last axis.
    """
    h, w = rgb.shape[:2]
    change = change.astype(np.float32, copy=False)
    hs, ws = change.shape[:2]
    if (hs, ws) == (h, w):
        return change.copy()
    colour = cv2.resize(rgb, (ws, hs), interpolation=cv2.INTER_AREA).astype(np.float32)
    change = _share_with_mixed(change, colour)
    small = [np.ascontiguousarray(colour[..., k]) for k in range(3)] + [np.ascontiguousarray(change[..., c])
                                                                      for c in range(2)]
    # [5:8] their look, for what keeps its colour (chromaticity and brightness), and [8] the
    # most saturated colour near each: what a pixel blended from it and something paler
    # (an edge, a highlight) is compared with.
    look = _look(small[:3])
    small += look[:3] + [cv2.dilate(look[3], np.ones((3, 3), np.uint8))]

    def neighbours(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        source = np.clip((np.arange(n_out, dtype=np.float32) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
        first = source.astype(np.int64)
        return first, np.minimum(first + 1, n_in - 1), (source - first).astype(np.float32)

    left, right, fx = neighbours(w, ws)
    top, below, fy = neighbours(h, hs)
    # Each plane widened to full width at its two column neighbours: (hs, w), small.
    # (np.take: three times as fast as fancy indexing here, which took 3 of a 19 ms call.)
    columns = [([np.take(plane, left, axis=1) for plane in small], 1.0 - fx),
               ([np.take(plane, right, axis=1) for plane in small], fx)]
    inverse = np.float32(1.0 / UPSAMPLE_COLOUR_SOFTNESS ** 2)
    # Where the four working pixels around a full-size one have no change to speak of, every
    # weighting gives none: those rows of working pixels (most of a photo, far from the
    # hints) are interpolated plainly.  (Where they agree on a change, a thin thing unlike
    # all four must still be told apart: it keeps its colour.)
    steps = np.zeros(hs, dtype=bool)
    for plane in small[3:5]:
        pair = np.abs(np.stack([plane, np.vstack([plane[1:], plane[-1:]])]))
        steps |= np.maximum(pair[:, :, 1:], pair[:, :, :-1]).max(axis=(0, 2), initial=0.0) > UPSAMPLE_AGREE
    out = np.empty((h, w, 2), dtype=np.float32)
    for r0 in range(0, h, UPSAMPLE_BAND_ROWS):
        rows = slice(r0, r0 + UPSAMPLE_BAND_ROWS)
        if not steps[top[rows]].any():
            for c in range(2):
                at_left, at_right = columns[0][0][3 + c], columns[1][0][3 + c]
                upper = at_left[top[rows]] * (1.0 - fx) + at_right[top[rows]] * fx
                lower = at_left[below[rows]] * (1.0 - fx) + at_right[below[rows]] * fx
                out[rows, :, c] = upper + fy[rows][:, None] * (lower - upper)
            continue
        own = [rgb[rows, :, k].astype(np.float32) for k in range(3)]
        own_look = _look(own)
        total = np.zeros(own[0].shape, dtype=np.float32)
        nearest = np.full_like(total, np.inf)  # the squared look distance to the likest of the four
        theirs = np.zeros_like(total)  # the saturation near the four, the most of it
        acc = [np.zeros_like(total), np.zeros_like(total)]
        for row_index, down in ((top[rows], 1.0 - fy[rows]), (below[rows], fy[rows])):
            for widened, side in columns:
                planes = [np.take(plane, row_index, axis=0) for plane in widened]  # this band's rows
                distance = np.zeros_like(total)
                for k in range(3):
                    d = own[k] - planes[k]
                    d *= d
                    distance += d
                # 1 / (1 + d / s^2)^2: nearly as selective as a Gaussian, no exp; a small
                # floor keeps the weights of a pixel unlike all four from vanishing.
                distance *= inverse
                distance += 1.0
                weight = np.reciprocal(distance)
                weight *= weight
                weight += np.float32(1e-4)
                weight *= down[:, None]
                weight *= side[None, :]
                total += weight
                for c in range(2):
                    acc[c] += weight * planes[3 + c]
                apart = np.zeros_like(total)
                for k in range(3):
                    d = own_look[k] - planes[5 + k]
                    d *= d
                    apart += d
                np.minimum(nearest, apart, out=nearest)
                np.maximum(theirs, planes[8], out=theirs)
        # A pixel unlike all four (a thin red tube across a wall being recoloured) is not
        # what they are: it keeps its own colour, the more the less it is like any of them
        # (likeness 1 / (1 + d^2)^2 of the likest).
        nearest += 1.0
        keep = np.reciprocal(nearest)
        keep *= keep
        keep *= np.float32(1.0 / UPSAMPLE_UNLIKE)
        np.minimum(keep, 1.0, out=keep)
        # A pixel paler than the colour around it is partly something else (a yellow centre's
        # edge blended with white petals, a highlight): it takes that part of the change, or
        # the white part turned too, to green's difference from yellow (a cyan fringe round a
        # centre made green).  Paler in saturation, not in chroma: darker seeds in the centre
        # have less chroma, not less saturation, and change with it.
        pale = own_look[3] + np.float32(UPSAMPLE_GREY_SATURATION)
        theirs += np.float32(UPSAMPLE_GREY_SATURATION)
        pale /= theirs
        np.minimum(pale, 1.0, out=pale)
        keep *= pale
        for c in range(2):
            out[rows, :, c] = acc[c] / total * keep
    return out


# A working pixel mixing two neighbours' colours (RGB distance to the line between them, in
# grey levels, at most this much) ...
UPSAMPLE_MIX_FIT = 12.0
# ... and at least this share of the changed one (0-1), carries that neighbour's change ...
UPSAMPLE_MIX_SHARE = 0.3
# ... when it changed by less than this fraction of that neighbour's change (the graph's cut;
# inside a fading change, neighbours differ by a little and need nothing).
UPSAMPLE_MIX_SHORT = 0.75
# Neighbours on opposite sides of a working pixel: right/left, down/up and both diagonals.
_OPPOSITE_STEPS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _share_with_mixed(change: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """The working-size ``change`` (h, w, 2) with each working pixel that straddles an edge
    given the change of the side that changed more.

    A working pixel on the edge of a recoloured coat mixes the coat's colour with the
    lawn's; the graph's colour cut leaves it almost unchanged, and the full-size pixels of
    the coat's edge, likest to it, kept a rim of the old colour.  Given the coat's change,
    those pixels take it in proportion to how much coat they hold (the paleness rule of
    ``upsample_by_colour``), and the lawn's full-size pixels, likest to the lawn's working
    pixels, still take none.  A pixel is mixed when its colour lies on the line between two
    opposite neighbours' (``UPSAMPLE_MIX_FIT``) with some of the changed one's in it.
    """
    h, w = change.shape[:2]
    size = chroma_size(change)
    # Only a pixel next to one that changed much more, with neighbours of colours far enough
    # apart, can take a change: along the edges of what the hints changed, a small part of the
    # photo (all of it took 15 ms at 192 px; every pixel of a fading change, 9 ms).
    block = np.ones((3, 3), np.uint8)
    bigger = cv2.dilate(size, block, borderType=cv2.BORDER_REPLICATE)
    spread = cv2.dilate(colour, block, borderType=cv2.BORDER_REPLICATE)
    spread -= cv2.erode(colour, block, borderType=cv2.BORDER_REPLICATE)
    # Each channel's range over the 3 x 3 block bounds that channel's part of the distance
    # between two opposite neighbours.
    spread *= spread
    edge = cv2.transform(spread, np.ones((1, 3), np.float32)) > UPSAMPLE_MIX_FIT ** 2  # summed over R, G, B
    short = (size < UPSAMPLE_MIX_SHORT * bigger) & (bigger > size + UPSAMPLE_AGREE)
    rows, cols = np.nonzero(short & edge)
    if len(rows) == 0:
        return change
    # All eight neighbours of every candidate at once, (8, n): ``near`` the side that may have
    # changed more, ``far`` the one opposite it.
    steps = np.array([(sign * dy, sign * dx) for dy, dx in _OPPOSITE_STEPS for sign in (1, -1)])[:, :, None]
    near = np.clip(rows + steps[:, 0], 0, h - 1) * w + np.clip(cols + steps[:, 1], 0, w - 1)
    far = np.clip(rows - steps[:, 0], 0, h - 1) * w + np.clip(cols - steps[:, 1], 0, w - 1)
    here = rows * w + cols
    length2 = np.zeros(near.shape, np.float32)
    along = np.zeros_like(length2)  # (here - far) . (near - far)
    offset2 = np.zeros_like(length2)
    for k in range(3):  # planes: numpy is slow along a short last axis
        plane = colour[..., k].ravel()
        base = plane[far]
        line = plane[near] - base
        offset = plane[here] - base
        length2 += line * line
        along += offset * line
        offset2 += offset * offset
    share = along / np.maximum(length2, 1.0)
    miss2 = offset2 - share * along  # squared distance from the line between the two
    mixed = (miss2 <= UPSAMPLE_MIX_FIT ** 2) & (length2 > UPSAMPLE_MIX_FIT ** 2) & (share >= UPSAMPLE_MIX_SHARE)
    near_size = np.where(mixed, size.ravel()[near], -1.0)
    pick = near_size.argmax(axis=0)
    columns = np.arange(len(here))
    best, own = near_size[pick, columns], size.ravel()[here]
    take = (own < UPSAMPLE_MIX_SHORT * best) & (best > own + UPSAMPLE_AGREE)
    out = change.copy()
    flat_out, flat_in = out.reshape(-1, 2), change.reshape(-1, 2)
    flat_out[here[take]] = flat_in[near[pick, columns][take]]
    return out


def _look(rgb_planes: list[np.ndarray]) -> list[np.ndarray]:
    """R, G and B planes -> chromaticity (two planes) and log brightness, each divided by its
    softness (so distances in them are in softnesses), and saturation: how far the
    chromaticity (RGB over its sum) lies from grey's (1/3 each)."""
    total = rgb_planes[0] + rgb_planes[1] + rgb_planes[2] + np.float32(UPSAMPLE_DARK)
    inverse = np.reciprocal(total)
    saturation = np.zeros_like(total)
    shares = []
    for plane in rgb_planes:
        share = plane * inverse
        shares.append(share)
        d = share - np.float32(1.0 / 3.0)
        d *= d
        saturation += d
    np.sqrt(saturation, out=saturation)
    softness = np.float32(1.0 / UPSAMPLE_CHROMATICITY_SOFTNESS)
    brightness = np.log(total)
    brightness *= np.float32(1.0 / UPSAMPLE_BRIGHTNESS_SOFTNESS)
    return [shares[0] * softness, shares[1] * softness, brightness, saturation]


# A toned black-and-white print (sepia, selenium, a yellowed print) scanned in colour has
# colours of one hue.  Kept as its own colours it comes back unchanged, which a walk-through
# met on an album of old photos.  Measured on the 836 gathered colour photos:
# - weak colours of one hue (colourfulness under 30, hues agreeing to 0.95): a sepia portrait
#   of the validation split (27, 0.96) and 17 others, mostly near-monochrome colour photos
#   (a desert, pliers on paper), to whom the advice to colour from grey, which is all this
#   decides, does no harm;
# - stronger, up to 60 (ImageMagick's sepia-tone at 80-95 %: 56 and 36, which a second
#   walk-through made), only a warm hue (100-170 degrees in the Cb/Cr plane: sepia 119-141)
#   that the grey level predicts (the 90th percentile of what per-grey-level mean chroma
#   leaves unexplained under 0.12 of the 90th percentile of chroma; the sepia prints 0.04-0.16,
#   a stormy sea and a scissors on green cloth 0.06-0.08 but blue): no further gathered photo.
#   Yellow flowers and a green leaf, strong single hues, score 100-130.
TONED_WEAK_COLOURFULNESS = 30.0  # Hasler & Suesstrunk, 8-bit RGB
TONED_MAX_COLOURFULNESS = 60.0
TONED_MIN_HUE_AGREEMENT = 0.95  # length of the mean unit chroma vector of the coloured pixels
TONED_WARM_HUES = (100.0, 170.0)  # degrees of atan2(Cr, Cb)
TONED_MAX_UNEXPLAINED = 0.12
_TONED_MIN_CHROMA = 3.0  # levels: below, a pixel has no hue worth counting


def looks_toned(rgb: np.ndarray) -> bool:
    """Whether a colour photo looks like a toned black-and-white print: colours of one hue,
    weak, or warm and following the grey level."""
    step = max(1, int(math.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
    sample = rgb[::step, ::step]
    strength_of_colour = colourfulness(sample)
    if strength_of_colour >= TONED_MAX_COLOURFULNESS:
        return False
    chroma = chroma_of(sample).reshape(-1, 2).astype(np.float64)
    strength = np.hypot(chroma[:, 0], chroma[:, 1])
    coloured = strength > _TONED_MIN_CHROMA
    if coloured.mean() < 0.05:
        return False  # as good as grey: ``imageio`` treats such a photo as grey already
    hues = chroma[coloured] / strength[coloured, None]
    if float(np.hypot(*hues.mean(axis=0))) <= TONED_MIN_HUE_AGREEMENT:
        return False
    if strength_of_colour < TONED_WEAK_COLOURFULNESS:
        return True
    mean = chroma.mean(axis=0)
    if not TONED_WARM_HUES[0] <= math.degrees(math.atan2(mean[1], mean[0])) <= TONED_WARM_HUES[1]:
        return False
    levels = np.clip(luma(sample).reshape(-1) // 8, 0, 31).astype(int)
    counts = np.maximum(np.bincount(levels, minlength=32), 1)[:, None]
    by_level = np.stack([np.bincount(levels, chroma[:, i], 32) for i in (0, 1)], axis=1) / counts
    unexplained = np.hypot(*(chroma - by_level[levels]).T)
    return float(np.percentile(unexplained, 90)) < TONED_MAX_UNEXPLAINED * float(np.percentile(strength, 90))


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=-1)


def fit_size(shape: tuple[int, ...], max_side: int) -> tuple[int, int]:
    """(width, height) of an image of ``shape`` (H, W, ...) shrunk so its long side is at
    most ``max_side``; never enlarged.  The one formula for every preview size (and, through
    ``working_fit``, working size), so sizes computed in different places agree to the pixel."""
    return _size_at(shape, max_side / max(shape[:2]))


def _size_at(shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    """(width, height) of ``shape`` (H, W, ...) at ``scale``, never enlarged, at least 1 x 1."""
    h, w = shape[:2]
    scale = min(1.0, scale)
    return max(1, round(w * scale)), max(1, round(h * scale))


# A long, narrow photo (a panoramic school photo, 6:1) shrunk by its long side alone was
# 32 px tall at the 192 px working size: a face one pixel, every hint bleeding along the
# row.  Its short side keeps at least this share of the working side, and its long side then
# grows to at most ELONGATED_MAX times the working side (at 9:1, the most pixels: 1.5 times a 3:2 photo's).
ELONGATED_MIN_SHORT = 1 / 3
ELONGATED_MAX = 3.0


def _elongated_scale(shape: tuple[int, ...], side: float) -> float:
    """Scale that brings ``shape`` (H, W, ...) to long side ``side``; or, where its short side
    would then be under ``ELONGATED_MIN_SHORT * side``, to that short side, with the long side
    at most ``ELONGATED_MAX * side``."""
    long, short = max(shape[:2]), min(shape[:2])
    scale = side / long
    if short * scale < side * ELONGATED_MIN_SHORT:
        scale = min(side * ELONGATED_MIN_SHORT / short, ELONGATED_MAX * side / long)
    return scale


def working_fit(shape: tuple[int, ...], side: int) -> tuple[int, int]:
    """(width, height) of a working copy of a photo of ``shape``: ``fit_size`` for the
    usual photo, a taller copy of a panorama (``_elongated_scale``); never enlarged."""
    return _size_at(shape, _elongated_scale(shape, side))


def shrink_for_screen(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``grey`` (H, W) uint8 at ``size`` = (W, H), smaller, by a Lanczos filter widened to the
    shrink (Pillow's), as a photo is best looked at: an average by area is free of aliasing
    but soft (the sample at 339 px: 10.2 grey levels between neighbours, against 11.2 here and
    14.0 for the aliased bilinear shrink the grey pane gets from Qt).  0.1 s from 24 MP to
    1500 px, once per photo and size."""
    return np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.LANCZOS))


def resize_to_max_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (never enlarge) so the longer side is at most ``max_side``."""
    size = fit_size(image.shape, max_side)
    if size == (image.shape[1], image.shape[0]):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(image, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def upsample_chroma(chroma: np.ndarray, grey: np.ndarray, edge_aware: bool = True,
                    radius: int = 1, eps: float = 1e-3) -> np.ndarray:
    """Bring working-size chroma to the grey image's full size.

    Plain bilinear upsampling smears colour across edges that the full-resolution grey
    shows sharply.  Instead we fit the guided filter's local linear model, chroma ~ a *
    grey + b (He et al. 2010), at the working size, upsample only the smooth a and b, and
    apply them to the full-resolution grey (He & Sun's fast guided filter), so colour
    edges land on the real edges.  The luminance itself is never resampled.
    """
    h, w = grey.shape
    chroma = chroma.astype(np.float32, copy=False)
    if chroma.shape[:2] == (h, w):
        return chroma
    if not edge_aware:
        return cv2.resize(chroma, (w, h), interpolation=cv2.INTER_LINEAR)
    small_size = (chroma.shape[1], chroma.shape[0])
    guide_small = cv2.resize(grey, small_size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    mean_i = _box(guide_small, radius)
    var_i = _box(guide_small * guide_small, radius) - mean_i * mean_i
    out = np.empty((h, w, 2), dtype=np.float32)
    for c in range(2):
        p = np.ascontiguousarray(chroma[..., c])
        mean_p = _box(p, radius)
        a = (_box(guide_small * p, radius) - mean_i * mean_p) / (var_i + eps)
        b = mean_p - a * mean_i
        # a applies to grey / 255: scaled here, at the small size, so no float copy of the
        # full-resolution grey is made and a * grey + b is formed in place (at 24 MP three
        # 96 MB arrays fewer at the peak of a save).
        a_full = cv2.resize(_box(a, radius) / np.float32(255.0), (w, h), interpolation=cv2.INTER_LINEAR)
        b_full = cv2.resize(_box(b, radius), (w, h), interpolation=cv2.INTER_LINEAR)
        np.multiply(a_full, grey, out=a_full)
        a_full += b_full
        del b_full
        out[..., c] = a_full
        del a_full
    return out

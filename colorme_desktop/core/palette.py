"""Colours to paint with: vivid suggestions from the result and the hints, and recent colours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colorme_desktop.core.color import chroma_of, compose, luma, resize_to_max_side
from colorme_desktop.core.hints import hex_color, parse_hex_color, patch_mean

Color = tuple[int, int, int]

# Chroma (grey levels) that the colourful tenth of the enhanced image is stretched to;
# network colours are muted, and clustering averages them further towards grey.
_VIVID_CHROMA = 45.0
_MAX_CHROMA_GAIN = 4.0
_GREY_CHROMA = 8.0  # a suggestion below this is a grey, offered only if nothing else is


def enhance_for_palette(rgb: np.ndarray, gamma: float = 0.8, lighten: float = 0.2) -> np.ndarray:
    """Gamma-correct through a lookup table, lighten by ``lighten``, then make the colour vivid.

    Suggestions taken from a muted result look dull on their own, so the original design
    brightened the photo before clustering; lightening alone also washes colour out, so
    the chroma is stretched afterwards (luminance kept) until the colourful parts are vivid.
    """
    levels = np.arange(256, dtype=np.float32) / 255.0
    lut = np.power(levels, gamma)
    lut = lut + (1.0 - lut) * lighten
    table = np.clip(np.rint(lut * 255.0), 0, 255).astype(np.uint8)
    lighter = table[rgb]
    chroma = chroma_of(lighter)
    strong = float(np.percentile(np.hypot(chroma[..., 0], chroma[..., 1]), 90)) if chroma.size else 0.0
    gain = float(np.clip(_VIVID_CHROMA / max(strong, 1e-3), 1.0, _MAX_CHROMA_GAIN))
    return compose(luma(lighter), chroma, gain)


def _chroma_of_colour(colour: Color) -> float:
    c = chroma_of(np.array([[colour]], dtype=np.uint8))[0, 0]
    return float(np.hypot(c[0], c[1]))


def all_grey(colours: list[Color]) -> bool:
    """Whether suggestions hold no colour at all: found on a result without hints from an
    engine that guesses none (Levin's spreads only hints), they are only the photo's greys."""
    return all(_chroma_of_colour(c) < _GREY_CHROMA for c in colours)


def kmeans(points: np.ndarray, clusters: int, seed: int, tries: int = 3, iterations: int = 100
           ) -> tuple[np.ndarray, np.ndarray]:
    """(centres, labels) of the best of ``tries`` k-means runs (k-means++ seeding, Lloyd steps).

    Written here rather than taken from scikit-learn, which took 2 s and some 100 MB to
    import for a clustering of a 128 px copy that takes milliseconds.
    """
    rng = np.random.default_rng(seed)
    points = points.astype(np.float64)
    squared = (points * points).sum(axis=1)
    best: tuple[float, np.ndarray, np.ndarray] | None = None

    def distances(centres: np.ndarray) -> np.ndarray:  # (points, centres) squared distances
        return np.maximum(squared[:, None] - 2.0 * points @ centres.T + (centres * centres).sum(axis=1), 0.0)

    for _ in range(tries):
        centres = points[[rng.integers(len(points))]]
        nearest = distances(centres)[:, 0]
        while len(centres) < clusters:  # k-means++: far points are likelier next centres
            total = nearest.sum()
            pick = rng.choice(len(points), p=nearest / total) if total > 0 else rng.integers(len(points))
            centres = np.vstack([centres, points[pick]])
            nearest = np.minimum(nearest, distances(centres[-1:])[:, 0])
        labels = np.full(len(points), -1)
        for _ in range(iterations):
            new_labels = distances(centres).argmin(axis=1)
            if np.array_equal(new_labels, labels):
                break
            labels = new_labels
            counts = np.bincount(labels, minlength=clusters)
            sums = np.zeros_like(centres)
            np.add.at(sums, labels, points)
            kept = counts > 0  # an emptied cluster keeps its centre
            centres[kept] = sums[kept] / counts[kept, None]
        inertia = float(distances(centres)[np.arange(len(points)), labels].sum())
        if best is None or inertia < best[0]:
            best = (inertia, centres, labels)
    return best[1], best[2]


def _clusters(rgb: np.ndarray, count: int, seed: int, max_side: int) -> tuple[list[Color], list[int]]:
    """K-means centres of a downsampled copy and their sizes, the largest first."""
    small = resize_to_max_side(rgb, max_side).reshape(-1, 3).astype(np.float32)
    if len(small) == 0:
        return [], []
    clusters = min(count, len(np.unique(small, axis=0)))
    centres, labels = kmeans(small, clusters, seed)
    sizes = np.bincount(labels, minlength=clusters)
    order = np.argsort(-sizes, kind="stable")
    centres = np.clip(np.rint(centres[order]), 0, 255).astype(int)
    return [tuple(int(v) for v in c) for c in centres], [int(n) for n in sizes[order]]


def dominant_colors(rgb: np.ndarray, count: int = 5, seed: int = 0, max_side: int = 128) -> list[Color]:
    """The ``count`` K-means centres of a downsampled copy, the largest cluster first."""
    return _clusters(rgb, count, seed, max_side)[0]


def vivid_colors(rgb: np.ndarray, count: int = 5, seed: int = 0) -> list[Color]:
    """Colours worth painting with from a result: enhanced, clustered, colourful first.

    More clusters than wanted are made, and each is ranked by its size times its chroma,
    so a large grey sky or wall does not crowd out the smaller colourful regions.
    """
    enhanced = enhance_for_palette(resize_to_max_side(rgb, 128))
    centres, sizes = _clusters(enhanced, count + 3, seed, 128)
    return _distinct_first(centres, sizes, count)


def photo_colors(rgb: np.ndarray, count: int = 5, seed: int = 0) -> list[Color]:
    """A colour photo's own main colours, colourful ones first (a reference photo's palette).

    Like ``vivid_colors`` but unenhanced: a real photo's colours are what the user wants.
    """
    centres, sizes = _clusters(resize_to_max_side(rgb, 96), count + 3, seed, 96)
    return _distinct_first(centres, sizes, count)


# A colour the network finds likely counts when its bins hold this share of the photo's
# probability: less is a stray guess somewhere, not a colour of a part of the photo.
_LIKELY_MIN_SHARE = 0.01
_LIKELY_MIN_CHROMA = 16.0  # bins nearer grey than this say "no particular colour"
_LIKELY_HUE_STEP = 25.0  # degrees of hue (Cb/Cr angle) between two likely colours
_SAME_HUE = 40.0  # ... within which a user calls two suggestions one colour (pale blue, blue)


def likely_colors(probabilities: np.ndarray, centres: np.ndarray, grey: np.ndarray, count: int = 5
                  ) -> list[Color]:
    """Colours a network finds likely for parts of a photo, made vivid, the likeliest first.

    ``probabilities`` (K, h, w): each pixel's distribution over K chroma bins whose Cb/Cr
    centres are ``centres`` (K, 2); ``grey`` (h, w) the photo at that size.  The automatic
    colour is the distribution's (annealed) mean, dull where the network hesitates between
    green and brown grass; the bins themselves still say "green", and a user looking for
    the grass's colour wants that one.  Each bin is shown at the mean brightness of the
    pixels that find it likely; near-grey bins are left out.
    """
    k = probabilities.shape[0]
    flat = probabilities.reshape(k, -1).astype(np.float64)
    share = flat.sum(axis=1) / max(flat.sum(), 1e-12)
    strength = np.hypot(centres[:, 0], centres[:, 1])
    hue = np.degrees(np.arctan2(centres[:, 1], centres[:, 0]))
    wanted = (strength >= _LIKELY_MIN_CHROMA) & (share >= _LIKELY_MIN_SHARE)
    colours: list[Color] = []
    taken: list[float] = []
    for i in (int(i) for i in np.argsort(-share) if wanted[i]):
        # One bin per hue: neighbouring bins are shades of one guess (olive and green are not).
        if any(_hue_gap(hue[i], other) < _LIKELY_HUE_STEP for other in taken):
            continue
        taken.append(hue[i])
        brightness = float((flat[i] * grey.reshape(-1)).sum() / max(flat[i].sum(), 1e-12))
        pixel = compose(np.array([[brightness]], dtype=np.uint8), centres[i][None, None].astype(np.float32))
        colours.append(tuple(int(v) for v in enhance_for_palette(pixel)[0, 0]))
        if len(colours) == count:
            break
    return colours


# Colours offered for one point of the photo (``point_suggestions_of``): at most this many,
# each holding at least this share of the network's belief there, and this many bins
# (of 16 levels of chroma) apart, so that they are other colours, not shades of one.
POINT_SUGGESTIONS = 5
_POINT_MIN_SHARE = 0.03
_POINT_APART = 2
_POINT_GREY = 12.0  # a peak nearer grey than this (the four bins around it reach 11.3) is a grey
# Shown at the photo's lightness at the point, within these bounds: the colour of a black
# coat at its own lightness is black; a hint adds colour, never brightness, so the swatch
# may be lighter (never by the 70 levels after which the window says so).
_POINT_LIGHTNESS = (48.0, 208.0)


@dataclass(frozen=True)
class PointSuggestions:
    """The colours a network finds likely at each cell of its grid over a photo.

    ``modes`` (h, w, M, 3): per cell up to M (Cb, Cr, share) peaks of the network's
    distribution, the likeliest first; share 0 where fewer were found.  The automatic
    colour is that distribution's mean, which averages green and brown grass to olive;
    a user pointing at the grass is offered both.
    """

    modes: np.ndarray

    def at(self, x: float, y: float, grey: np.ndarray) -> list[tuple[Color, float]]:
        """(colour, share) likely at image pixel (x, y) of ``grey`` (the photo, any size), the
        colour shown at the photo's lightness there (``_POINT_LIGHTNESS``)."""
        rows, cols = self.modes.shape[:2]
        height, width = grey.shape
        if not (0 <= x < width and 0 <= y < height):
            return []
        cell = self.modes[min(rows - 1, int(y) * rows // height), min(cols - 1, int(x) * cols // width)]
        level = float(patch_mean(grey, x, y))
        lightness = np.array([[np.clip(level, *_POINT_LIGHTNESS)]], dtype=np.float32)
        found = []
        for cb, cr, share in cell:
            if share > 0:
                rgb = compose(lightness, np.array([[[cb, cr]]], dtype=np.float32))
                found.append((tuple(int(v) for v in rgb[0, 0]), float(share)))
        return found


def point_suggestions_of(probabilities: np.ndarray, centres: np.ndarray, count: int = POINT_SUGGESTIONS
                      ) -> PointSuggestions:
    """The peaks of each cell's distribution over a square grid of chroma bins.

    ``probabilities`` (K, h, w) over K = n x n bins whose Cb/Cr centres are ``centres``
    (K, 2), in the grid's order (``engines.chroma_bins``).  A peak is the likeliest bin; its
    colour is the mean of its 3 x 3 neighbourhood and its share what that holds.  The next
    peak is the likeliest bin ``_POINT_APART`` bins away or more from those taken.
    """
    k, rows, cols = probabilities.shape
    side = int(round(np.sqrt(k)))
    p = probabilities.reshape(side, side, rows, cols).transpose(2, 3, 0, 1).astype(np.float32)
    weighted = np.concatenate([p[..., None], p[..., None] * centres.reshape(side, side, 2)], axis=-1)
    padded = np.pad(weighted, ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)))
    # (rows, cols, side, side, 3): each bin's 3 x 3 neighbourhood's probability and Cb, Cr sums
    near = sum(padded[:, :, 1 + di:1 + di + side, 1 + dj:1 + dj + side] for di in (-1, 0, 1) for dj in (-1, 0, 1))
    mass = near[..., 0].reshape(rows, cols, k)
    sums = near[..., 1:].reshape(rows, cols, k, 2)
    # Peaks are the likeliest bins themselves: by their neighbourhoods' mass, a bin between
    # two guesses two bins apart (green grass and grey) would win with a mix of both.
    left = p.reshape(rows, cols, k).copy()
    bin_row, bin_col = np.divmod(np.arange(k), side)
    modes = np.zeros((rows, cols, count, 3), dtype=np.float32)
    for m in range(count):
        peak = left.argmax(axis=-1)
        share = np.take_along_axis(mass, peak[..., None], axis=-1)[..., 0]
        chroma = np.take_along_axis(sums, peak[..., None, None], axis=2)[:, :, 0] / np.maximum(share, 1e-9)[..., None]
        found = share >= _POINT_MIN_SHARE
        modes[..., m, :2] = np.where(found[..., None], chroma, 0.0)
        modes[..., m, 2] = np.where(found, share, 0.0)
        close = ((np.abs(bin_row - bin_row[peak][..., None]) <= _POINT_APART)
                 & (np.abs(bin_col - bin_col[peak][..., None]) <= _POINT_APART))
        left[close] = -1.0
    # Offered by what their neighbourhoods hold, which the order of the peaks need not follow;
    # a near-grey after the colours: in dark or pale places it is often the likeliest, and
    # the colour worth painting with sat second to fourth behind it (a walk-through).  The
    # Keep tool is the way to ask for a thing's grey.
    greyish = np.hypot(modes[..., 0], modes[..., 1]) < _POINT_GREY
    order = np.lexsort((-modes[..., 2], greyish & (modes[..., 2] > 0)), axis=-1)
    return PointSuggestions(np.take_along_axis(modes, order[..., None], axis=2))


def _hue_gap(a: float, b: float) -> float:
    """Degrees between two hues (Cb/Cr angles in degrees), the short way round."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _alike(a: Color, b: Color) -> bool:
    """Two colours a user would call the same: of one hue (or both greyish) and brightness.

    Shades of one colour by this measure: a lake photo's palette once offered five blues
    and not the green of its forest, and by RGB distance alone a canyon's three pale blues
    still counted as three colours."""
    (cb_a, cr_a), (cb_b, cr_b) = (chroma_of(np.array([[c]], dtype=np.uint8))[0, 0] for c in (a, b))
    strength_a, strength_b = np.hypot(cb_a, cr_a), np.hypot(cb_b, cr_b)
    brightness = abs(float(np.mean(a)) - float(np.mean(b)))
    if min(strength_a, strength_b) < _GREY_CHROMA:
        return max(strength_a, strength_b) < 2 * _GREY_CHROMA and brightness < 40
    hue_a, hue_b = np.degrees(np.arctan2(cr_a, cb_a)), np.degrees(np.arctan2(cr_b, cb_b))
    return _hue_gap(hue_a, hue_b) < _SAME_HUE and brightness < 60


def merged_suggestions(first: list[Color], second: list[Color], count: int = 5, reserved: int = 2
                       ) -> list[Color]:
    """Different colours first: ``first``'s up to ``count - reserved``, then ``second``'s unlike
    any taken (another hue, not a shade), then the rest of ``first``'s; shades of colours
    already taken only when nothing else is left."""
    merged: list[Color] = []

    def take(colours: list[Color], limit: int, unlike: bool) -> None:
        for colour in colours:
            if len(merged) >= limit:
                return
            if colour not in merged and not (unlike and any(_alike(colour, other) for other in merged)):
                merged.append(colour)

    take(first, count - reserved, unlike=True)
    take(second, count, unlike=True)
    take(first, count, unlike=True)
    take(first + second, count, unlike=False)
    return merged


def _distinct_first(centres: list[Color], sizes: list[int], count: int) -> list[Color]:
    """``count`` cluster colours ranked by size times chroma: the colourful ones, each a
    different colour from those before it while there are such, then their shades, then
    greys (offered only if nothing else is)."""
    ranked = sorted(zip(centres, sizes), key=lambda item: -item[1] * max(_chroma_of_colour(item[0]), 1.0))
    colourful = [c for c, _ in ranked if _chroma_of_colour(c) >= _GREY_CHROMA]
    greys = [c for c, _ in ranked if _chroma_of_colour(c) < _GREY_CHROMA]
    distinct: list[Color] = []
    for colour in colourful:
        if not any(_alike(colour, other) for other in distinct):
            distinct.append(colour)
    shades = [c for c in colourful if c not in distinct]
    return (distinct + shades + greys)[:count]


class RecentColours:
    """Recently used colours in fixed places, so a swatch is where the hand remembers it.

    A colour already shown stays put when used again; a new one takes an empty place,
    or, when all are taken, the place of the colour used longest ago.  A colour that
    cannot be told from one shown (``INDISTINGUISHABLE``) takes that one's place: picked
    twice from the same cheek with the eyedropper, a skin tone filled two swatches with
    what looked like one colour and pushed out a colour still wanted.
    """

    INDISTINGUISHABLE = 6  # levels, in every channel: beside each other on a swatch they look the same

    def __init__(self, slots: int = 10) -> None:
        self._colours: list[Color | None] = [None] * slots
        self._last_used: list[int] = [0] * slots
        self._clock = 0

    @property
    def colours(self) -> list[Color | None]:
        return list(self._colours)

    def use(self, colour: Color) -> None:
        colour = tuple(int(c) for c in colour)
        self._clock += 1
        alike = [place for place, shown in enumerate(self._colours) if shown is not None
                 and max(abs(a - b) for a, b in zip(shown, colour)) <= self.INDISTINGUISHABLE]
        if alike:
            place = min(alike, key=lambda p: sum(abs(a - b) for a, b in zip(self._colours[p], colour)))
        elif None in self._colours:
            place = self._colours.index(None)
        else:
            place = int(np.argmin(self._last_used))
        self._colours[place] = colour
        self._last_used[place] = self._clock

    def to_text(self) -> list[str]:
        """Each colour as "PLACE:#rrggbb", the one used longest ago first: kept in the settings."""
        used = sorted((when, place) for place, when in enumerate(self._last_used) if self._colours[place])
        return [f"{place}:{hex_color(self._colours[place])}" for _, place in used]

    def restore(self, entries: object) -> None:
        """Take back ``to_text``'s colours in their places; anything else in ``entries`` (a
        settings file edited by hand, or from another version) is passed over."""
        if isinstance(entries, str):
            entries = [entries]  # an INI file gives back a list of one as the one string
        for entry in entries if isinstance(entries, list) else []:
            place, _, colour = str(entry).partition(":")
            try:
                place, colour = int(place), parse_hex_color(colour)
            except ValueError:
                continue
            if 0 <= place < len(self._colours):
                self._clock += 1
                self._colours[place], self._last_used[place] = colour, self._clock

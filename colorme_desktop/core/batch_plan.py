"""Which photos a batch colorizes and where each result goes, decided before any work starts.

Planning is separate from running so that the command line and the app show the same
list, refuse the same mistakes (two photos that would land on one output, an output that
is the photo itself) and resume an interrupted run the same way: a photo whose output
already exists is not done again unless asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from colorme_desktop.core.imageio import PAGED_SUFFIXES, SAVE_FORMATS, page_count

# What a folder scan picks up; a photo named explicitly is always tried, whatever its name.
PHOTO_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif"})
HINTS_SUFFIX = ".hints.json"


class BatchPlanError(Exception):
    """The batch as a whole cannot run (e.g. several photos but one output file)."""


@dataclass(frozen=True)
class BatchItem:
    """One photo to colorize: where it is, where its result goes, its hints file if any,
    and which page (from 0) of a multi-page file it is."""

    source: Path
    output: Path
    hints: Path | None = None
    page: int = 0


@dataclass(frozen=True)
class BatchProblem:
    """A photo that will not be colorized, and why, for the list shown at the end."""

    source: Path
    message: str


@dataclass
class BatchPlan:
    items: list[BatchItem] = field(default_factory=list)
    skipped: list[BatchItem] = field(default_factory=list)  # output already there
    problems: list[BatchProblem] = field(default_factory=list)


def page_stem(photo: Path, page: int = 0) -> str:
    """The name that files made from ``photo`` start with: its stem, and for a page after the
    first of a multi-page file, ``STEM-pageN`` (N from 1), so each page's hints and results
    have their own names.  The first page keeps the plain stem, as before pages could be
    chosen."""
    return photo.stem if page == 0 else f"{photo.stem}-page{page + 1}"


def hints_names_beside(photo: Path, page: int = 0) -> list[Path]:
    """Where hints for ``photo`` come back from when it is opened: ``STEM.hints.json`` (what
    the app's Save Hints proposes) or ``NAME.hints.json`` (photo name with its extension) in
    the same folder; for a later ``page`` of a multi-page file, ``STEM-pageN.hints.json`` only."""
    names = [photo.with_name(page_stem(photo, page) + HINTS_SUFFIX)]
    if page == 0:
        names.append(photo.with_name(photo.name + HINTS_SUFFIX))
    return names


def hints_beside(photo: Path, page: int = 0) -> Path | None:
    """The hints file saved for ``photo`` (``hints_names_beside``), if there is one."""
    return next((candidate for candidate in hints_names_beside(photo, page) if candidate.is_file()), None)


def _normalise_format(fmt: str) -> str:
    suffix = "." + fmt.lower().lstrip(".")
    if suffix not in SAVE_FORMATS:
        raise BatchPlanError(f"Cannot save as '{fmt}': choose one of "
                             f"{', '.join(s.lstrip('.') for s in sorted(SAVE_FORMATS))}.")
    return suffix


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist (yet): they cannot be the same
        return False


def _scan(folder: Path, recursive: bool, exclude: Path | None) -> list[Path]:
    """Photos in ``folder`` (and below if ``recursive``), sorted so runs are repeatable.

    Hidden files are left out: they include the ``.NAME.part`` files of a save that was
    interrupted.  The output folder is left out when it lies inside the input folder, or
    a second run would colorize its own results.  Symbolic links to folders are not
    followed, so a link back up the tree cannot make the scan endless.
    """
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        if exclude is not None:
            dirs[:] = [d for d in dirs if not _same_file(root_path / d, exclude)]
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(root_path / name for name in sorted(files)
                     if not name.startswith(".") and Path(name).suffix.lower() in PHOTO_SUFFIXES)
        if not recursive:
            break
    return found


def is_single_file_job(inputs: Sequence[str | os.PathLike], output: str | os.PathLike) -> bool:
    """One photo and an output named like a file (``colorize IN -o OUT.png``), not a folder.

    Any extension counts, so ``-o out.gifx`` is refused as a file type rather than
    becoming a folder called out.gifx.
    """
    return len(inputs) == 1 and not Path(inputs[0]).is_dir() and not Path(output).is_dir() and bool(
        Path(output).suffix)


def plan_batch(inputs: Sequence[str | os.PathLike], output: str | os.PathLike, *, fmt: str = "png",
               recursive: bool = False, overwrite: bool = False, replace_originals: bool = False) -> BatchPlan:
    """Map photos and folders of photos to outputs under the folder ``output``.

    A folder's photos keep their path relative to that folder; a photo named directly
    goes to ``output/NAME``.  Every output takes the extension of ``fmt``.  Each page of a
    multi-page TIFF is a photo of its own: ``NAME``, ``NAME-page2``, ... (``page_stem``).  Outputs that
    exist are skipped unless ``overwrite``, which is what lets a stopped run resume.  An
    output that is its own photo is refused unless ``replace_originals`` as well: asking
    to redo finished results is not asking to lose the photos (the app's "Redo" box
    replaced the originals of a folder that was its own output, without a word).
    Nothing is written here, not even the output folder.
    """
    suffix = _normalise_format(fmt)
    out_dir = Path(output)
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchPlanError(f"{out_dir} is a file; give a folder for the results of several photos.")
    if not out_dir.exists() and out_dir.suffix.lower() in SAVE_FORMATS:
        raise BatchPlanError(f"{out_dir} looks like a file name, but several photos go into a folder; "
                             "give a folder (it is created if needed).")
    plan = BatchPlan()
    pairs: list[tuple[Path, Path]] = []  # (photo, output)
    for raw in inputs:
        source = Path(raw)
        if source.is_dir():
            exclude = out_dir if out_dir.exists() else None
            photos = _scan(source, recursive, exclude)
            if not photos:
                plan.problems.append(BatchProblem(source, f"{source} holds no photos"
                                                  + ("" if recursive else " (use --recursive for its sub-folders)")))
            pairs.extend((photo, out_dir / photo.relative_to(source).with_suffix(suffix)) for photo in photos)
        elif source.exists() or source.is_symlink():
            pairs.append((source, out_dir / Path(source.name).with_suffix(suffix)))
        else:
            plan.problems.append(BatchProblem(source, f"{source} does not exist"))
    _assign(plan, _every_page(_named_apart(pairs)), overwrite, replace_originals)
    return plan


def _every_page(pairs: list[tuple[Path, Path]]) -> list[tuple[Path, Path, int]]:
    """(photo, output, page) for every page of each photo; only TIFFs are opened to count."""
    paged = []
    for photo, out in pairs:
        pages = page_count(photo) if photo.suffix.lower() in PAGED_SUFFIXES else 1
        paged.extend((photo, out.with_name(page_stem(out, page) + out.suffix), page) for page in range(pages))
    return paged


def _named_apart(pairs: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Photos that differ only in extension (photo.jpg, photo.png, photo.tif: a scan kept in
    several formats) each get their own output, named with their extension (photo-jpg.png,
    photo-png.png, ...): one output was made and the others were reported as failed (a
    walk-through).  All of them, not all but the first: a name does not depend on order."""
    photos_of: dict[Path, set[Path]] = {}
    for photo, out in pairs:
        photos_of.setdefault(Path(os.path.abspath(out)), set()).add(Path(os.path.realpath(photo)))
    named = []
    for photo, out in pairs:
        rivals = photos_of[Path(os.path.abspath(out))]
        # Only extensions tell them apart: two x.png from two folders still clash, and say so.
        if len(rivals) > 1 and len({rival.suffix.lower() for rival in rivals}) == len(rivals):
            out = out.with_name(f"{out.stem}-{photo.suffix[1:].lower()}{out.suffix}")
        named.append((photo, out))
    return named


def _assign(plan: BatchPlan, pairs: Iterable[tuple[Path, Path, int]], overwrite: bool,
            replace_originals: bool) -> None:
    claimed: dict[Path, Path] = {}  # output -> the photo that got it first
    for photo, out, page in pairs:
        # Compared as absolute paths: "a/x.png" and "./a/x.png" are one file.
        key = Path(os.path.abspath(out))
        if key in claimed:
            if not _same_file(claimed[key], photo):  # the same photo given twice is no problem
                plan.problems.append(BatchProblem(
                    photo, f"{photo} would be written to {out}, as {claimed[key]} already is; rename one"))
            continue
        claimed[key] = photo
        item = BatchItem(photo, out, hints_beside(photo, page), page)
        if _same_file(photo, out) and not (overwrite and replace_originals):
            plan.problems.append(BatchProblem(
                photo, f"{out} is the photo itself, so it was left as it is; choose another output "
                       "folder or format"))
        elif (out.exists() or out.is_symlink()) and not overwrite:
            plan.skipped.append(item)
        else:
            plan.items.append(item)

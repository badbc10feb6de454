"""The ``colorme`` command: colorize, palette, eval, install-desktop-entry.

This command is also how the project's quality is measured from outside: keep its
arguments and outputs stable.  Errors print one line on stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
from pathlib import Path

from colorme_desktop.core.color import ColourError
from colorme_desktop.core.hints import HintsFileError, hex_color, load_hints_file
from colorme_desktop.core.imageio import (
    READ_BYTES_PER_PIXEL,
    SAVE_FORMATS,
    ImageLoadError,
    ImageSaveError,
    check_output_path,
    load_image,
    save_image,
)
from colorme_desktop.engines.base import prefer_passive_threads, reuse_freed_memory
from colorme_desktop.engines.registry import ENGINE_NAMES

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class CommandError(Exception):
    """A problem the user can fix; printed as one line."""


def _colorize(args: argparse.Namespace) -> int:
    from colorme_desktop.core.batch_plan import is_single_file_job

    if args.jobs is not None and args.scheduler is not None:
        raise CommandError("--jobs and --scheduler exclude each other: the cluster decides how many run at once.")
    if is_single_file_job(args.inputs, args.output) and args.scheduler is None:
        _colorize_one(args)
        return 0
    if args.hints:
        raise CommandError("--hints is for one photo; for several, put NAME.hints.json beside each photo.")
    if args.page != 1:
        raise CommandError("--page is for one photo; when several are colorized, each multi-page file "
                           "is colorized at its first page.")
    return _colorize_many(args)


def _colorize_one(args: argparse.Namespace) -> None:
    from colorme_desktop.batch import colorize_photo
    from colorme_desktop.core.batch_plan import hints_beside
    from colorme_desktop.core.color import compose
    from colorme_desktop.engines.base import EngineError
    from colorme_desktop.engines.registry import create_engine

    source = Path(args.inputs[0])
    output = Path(args.output)
    # Everything that can be refused is refused before minutes go into colorizing.
    check_output_path(output)
    if not args.overwrite and _same_file(output, source):
        raise CommandError(f"{output} is the photo being colorized; choose another output name, "
                           "or pass --overwrite to replace the original.")
    image = load_image(source, page=args.page - 1)
    hints_path = args.hints or hints_beside(source, image.page)
    hints = load_hints_file(hints_path, image.size) if hints_path else ()
    if hints_path and not args.hints:
        print(f"note: using the hints in {hints_path}", file=sys.stderr)
    for note in image.notes + ([f"{image.page_note} (--page N colorizes another)"] if image.page_note else []):
        print(f"note: {note}", file=sys.stderr)
    try:
        engine, note = create_engine(args.engine)
        if args.reference:
            from colorme_desktop.batch import with_reference

            engine = with_reference(engine, Path(args.reference))
    except EngineError as exc:
        raise CommandError(str(exc)) from None
    if note:
        print(f"note: {note}", file=sys.stderr)
    chroma, unchanged = colorize_photo(engine, image, hints, own_colours=not args.from_grey and not args.reference)
    if unchanged:
        print(f"note: {unchanged}", file=sys.stderr)
    try:
        rgb = compose(image.grey, chroma, args.saturation, photo=image.rgb)
    except ColourError as exc:
        raise ColourError(f"The {engine.name} engine failed: {exc}; nothing was written.") from None
    save_image(output, rgb, alpha=image.alpha, metadata=image.metadata)


def _colorize_many(args: argparse.Namespace) -> int:
    """Photos and folders into a folder: the plan first (so mistakes cost nothing), then
    the photos in parallel with a progress bar, then one line per photo that failed."""
    from colorme_desktop.batch import (
        TONED_NOTE,
        BatchOptions,
        ClusterUnavailableError,
        default_jobs,
        make_engine,
        run_batch,
    )
    from colorme_desktop.core.batch_plan import BatchPlanError, plan_batch
    from colorme_desktop.engines.base import EngineError

    try:
        # --overwrite says both, as its help does: redo results, and replace originals.
        plan = plan_batch(args.inputs, args.output, fmt=args.format or "png", recursive=args.recursive,
                          overwrite=args.overwrite, replace_originals=args.overwrite)
    except BatchPlanError as exc:
        raise CommandError(str(exc)) from None
    failures = [(problem.source, problem.message) for problem in plan.problems]
    written = 0
    if plan.items:
        options = BatchOptions(engine=args.engine, saturation=args.saturation,
                               reference=Path(args.reference) if args.reference else None,
                               keep_own_colours=not args.from_grey)
        jobs = args.jobs or default_jobs()
        try:
            engine, note = make_engine(options)
        except EngineError as exc:
            raise CommandError(str(exc)) from None
        if note:
            print(f"note: {note}", file=sys.stderr)
        if jobs > 1 or args.scheduler:
            engine = None  # the workers make their own; this one only proved that it loads
        from tqdm import tqdm

        # The bar is for a person watching; in a log file it is noise.
        with tqdm(total=len(plan.items), unit="photo", file=sys.stderr, dynamic_ncols=True,
                  disable=args.quiet or not sys.stderr.isatty()) as bar:
            try:
                said: set[str] = set()  # the same sentence for every photo of a folder is said once
                for result in run_batch(plan.items, options, jobs=jobs, scheduler=args.scheduler, engine=engine):
                    for text in result.notes:
                        if not args.quiet and text == TONED_NOTE:  # which photo, to redo it --from-grey
                            bar.write(f"note: {result.item.source}: {text}", file=sys.stderr)
                        elif not args.quiet and text not in said:
                            said.add(text)
                            bar.write(f"note: {text}", file=sys.stderr)
                    if result.ok:
                        written += 1
                    else:
                        failures.append((result.item.source, result.error or "failed"))
                    bar.update()
            except ClusterUnavailableError as exc:
                raise CommandError(str(exc)) from None
    if not args.quiet:
        summary = f"colorized {written} photo{'s' * (written != 1)} into {args.output}"
        if plan.skipped:
            summary += f"; skipped {len(plan.skipped)} already done (--overwrite redoes them)"
        print(summary, file=sys.stderr)
    if failures:
        print(f"colorme: {len(failures)} photo{'s' * (len(failures) != 1)} failed:", file=sys.stderr)
        for source, message in sorted(failures, key=lambda pair: str(pair[0])):
            print(f"  {source}: {message}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist (yet): they cannot be the same
        return False


def _saturation(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of at least 0 (1 keeps the colour), not {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _palette(args: argparse.Namespace) -> None:
    from colorme_desktop.core.color import grey_to_rgb
    from colorme_desktop.core.palette import dominant_colors

    image = load_image(args.input, bytes_per_pixel=READ_BYTES_PER_PIXEL)
    rgb = image.rgb if image.rgb is not None else grey_to_rgb(image.grey)
    for colour in dominant_colors(rgb, count=5):
        print(hex_color(colour))


def _eval(args: argparse.Namespace) -> None:
    from colorme_desktop.engines.base import EngineError
    from colorme_desktop.engines.registry import create_engine
    from colorme_desktop.training.evaluate import evaluate, list_photos, write_report

    folder = Path(args.folder)
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder of photos.")
    photos = list_photos(folder)
    if not photos:
        raise CommandError(f"{folder} holds no photos.")
    engines = {}
    for name in args.engines.split(","):
        try:
            engine, note = create_engine(name.strip())
        except EngineError as exc:
            raise CommandError(str(exc)) from None
        engines[engine.name] = engine.colorize
    counts = tuple(int(n) for n in args.hints.split(","))
    result = evaluate(photos, engines, counts, max_side=args.max_side)
    if result.images == 0:
        raise CommandError(f"None of the photos in {folder} has colour to compare with.")
    write_report(result, Path(args.out))
    print(result.table())
    print(f"\nWrote {Path(args.out) / 'eval.md'} and eval.png")


def _install_desktop_entry(args: argparse.Namespace) -> None:
    from colorme_desktop.desktop_entry import install_desktop_entry

    path = install_desktop_entry()
    print(f"Installed {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colorme", description="Colorize black-and-white photos.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("colorize", help="colorize photos and folders of photos",
                       description="One photo to one file (-o OUT.png), or photos and folders into a folder "
                                   "(-o FOLDER), keeping sub-folders and names.  NAME.hints.json beside a "
                                   "photo is used.  Photos whose output exists are skipped, so a stopped "
                                   "run resumes.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photos and folders of photos")
    p.add_argument("-o", "--output", required=True,
                   help="for one photo: PNG, JPEG, TIFF or WebP, by extension; otherwise a folder")
    p.add_argument("--hints", help="hints JSON file (one photo only)")
    p.add_argument("--page", type=_positive_int, default=1,
                   help="the page (from 1) of a multi-page file such as a TIFF of scans (one photo only; "
                        "its hints beside it: NAME-pageN.hints.json)")
    p.add_argument("--engine", choices=ENGINE_NAMES, help="default: the best available")
    p.add_argument("--reference", metavar="PHOTO",
                   help="a colour photo of a similar scene: its colours go where its content matches")
    p.add_argument("--from-grey", action="store_true",
                   help="colour photos too are coloured from their grey (default, with the semantic engine and "
                        "no --reference: a colour photo keeps its own colours wherever its hints do not change them)")
    p.add_argument("--saturation", type=_saturation, default=1.0, help="scale the colour (default 1.0)")
    p.add_argument("--overwrite", action="store_true",
                   help="redo photos whose output exists, and allow an output to be its input")
    p.add_argument("--format", choices=sorted({s.lstrip(".") for s in SAVE_FORMATS}),
                   help="file type of results written into a folder (default png)")
    p.add_argument("-r", "--recursive", action="store_true", help="also photos in sub-folders")
    p.add_argument("-j", "--jobs", type=_positive_int, help="photos at once (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster, e.g. tcp://host:8786 (needs the 'cluster' extra)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary; failures only")
    p.set_defaults(run=_colorize)
    p = sub.add_parser("palette", help="print the 5 dominant colours of an image")
    p.add_argument("input")
    p.set_defaults(run=_palette)
    p = sub.add_parser("eval", help="measure quality on a folder of colour photos")
    p.add_argument("folder")
    p.add_argument("--out", default="eval-results")
    p.add_argument("--engines", default="levin,neural,semantic")
    p.add_argument("--hints", default="0,1,2,5,10,20,50", help="hint counts to measure")
    p.add_argument("--max-side", type=int, default=None, help="shrink photos first (faster)")
    p.set_defaults(run=_eval)
    p = sub.add_parser("install-desktop-entry", help="add ColorMe to this user's application menu")
    p.set_defaults(run=_install_desktop_entry)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that cleanups (a half-written save) run."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    prefer_passive_threads()
    reuse_freed_memory()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (main() called from a test or an embedding program)
        previous = None
    try:
        code = args.run(args)
    except (ImageLoadError, HintsFileError, ImageSaveError, CommandError) as exc:
        print(f"colorme: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ColourError as exc:
        print(f"colorme: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except Terminated:
        print("colorme: stopped by SIGTERM; no file was left half-written.", file=sys.stderr)
        return 128 + signal.SIGTERM
    except MemoryError:
        print("colorme: not enough memory for this image.", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, never a traceback
        logging.getLogger(__name__).debug("failure", exc_info=True)
        print(f"colorme: unexpected error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return code or 0


if __name__ == "__main__":
    sys.exit(main())

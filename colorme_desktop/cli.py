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
    ImageLoadError,
    ImageSaveError,
    check_output_path,
    load_image,
    save_image,
)

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class CommandError(Exception):
    """A problem the user can fix; printed as one line."""


def _colorize(args: argparse.Namespace) -> None:
    from colorme_desktop.core.color import compose
    from colorme_desktop.engines.base import EngineError
    from colorme_desktop.engines.registry import create_engine

    output = Path(args.output)
    # Everything that can be refused is refused before minutes go into colorizing.
    check_output_path(output)
    if not args.overwrite and _same_file(output, Path(args.input)):
        raise CommandError(f"{output} is the photo being colorized; choose another output name, "
                           "or pass --overwrite to replace the original.")
    image = load_image(args.input)
    hints = load_hints_file(args.hints, image.size) if args.hints else ()
    for note in image.notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        engine, note = create_engine(args.engine)
    except EngineError as exc:
        raise CommandError(str(exc)) from None
    if note:
        print(f"note: {note}", file=sys.stderr)
    chroma = engine.colorize(image.grey, hints)
    try:
        rgb = compose(image.grey, chroma, args.saturation)
    except ColourError as exc:
        raise ColourError(f"The {engine.name} engine failed: {exc}; nothing was written.") from None
    save_image(output, rgb)


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
    p = sub.add_parser("colorize", help="colorize a photo, optionally with a hints file")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True, help="PNG, JPEG, TIFF or WebP, by extension")
    p.add_argument("--hints", help="hints JSON file")
    p.add_argument("--engine", choices=("neural", "levin"), help="default: the best available")
    p.add_argument("--saturation", type=_saturation, default=1.0, help="scale the colour (default 1.0)")
    p.add_argument("--overwrite", action="store_true", help="allow OUTPUT to be INPUT itself")
    p.set_defaults(run=_colorize)
    p = sub.add_parser("palette", help="print the 5 dominant colours of an image")
    p.add_argument("input")
    p.set_defaults(run=_palette)
    p = sub.add_parser("eval", help="measure quality on a folder of colour photos")
    p.add_argument("folder")
    p.add_argument("--out", default="eval-results")
    p.add_argument("--engines", default="levin,neural")
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
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (main() called from a test or an embedding program)
        previous = None
    try:
        args.run(args)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 12: odd input that used to get through, one row per case.

Every row runs the ``colorme`` command on small files made in tmp_path and checks what a
user sees: the exit status, one clear line on stderr, and that every file that existed
before is exactly as it was (bytes, mode, kind) with no ``.part`` file left behind.
Rows marked "works" must succeed instead.  Rows that could hang (named pipes) or need a
real signal run the command in a subprocess with a timeout; the rest call main().

| case | input | outcome |
|------|-------|---------|
| 1 | --saturation nan / inf / -inf / -1 | refused at parsing, exit 2, output untouched |
| 1 | engine returns NaN chroma | "not a number", exit 1, output untouched |
| 2 | FIFO as colorize / palette input, as hints file | "is a named pipe", exit 2, no hang |
| 2 | FIFO among the photos of eval | skipped with a warning naming it, exit 0 |
| 3 | hints nested 100,000 deep / 401-digit number | one line naming the file, exit 2 |
| 3 | colours "#-1-1-1", "#+f+f+f", "# f f f" | "#rrggbb", exit 2 |
| 3 | hints file starting with a UTF-8 BOM | works |
| 4 | 200,000 point hints (the limit) | works (seconds: benchmarks/bench_hints.py) |
| 5 | 100 MP header (over Pillow's 89.5 MP) | passes the limit: reaches decoding |
| 5 | 160 MP / 400 MP headers | "more than the 150 megapixels", exit 2 |
| 5 | photo larger than the free memory | "needs about N GB ... only M GB is free", exit 2 |
| 6 | weights.json [] / null / string entry / inference list | one note line, falls back to |
|   | / working_side "big" or 200000                          | the optimization engine, exit 0 |
| 7 | output: symlink to /dev/null, read-only file, symlink loop | refused, exit 2, device/file/link kept |
| 7 | output is the input | refused unless --overwrite, exit 2 |
| 7 | output is the input, --overwrite | works, mode kept |
| 7 | output existing with mode 0640 / symlink to a file | works, mode kept / link kept |
| 7 | bad extension, missing folder | refused before any colorizing, exit 2 |
| 8 | SIGTERM during the save | exit 143, old output intact, no .part |
| 8 | TIFF to a full disk (root: a 64 kB tmpfs) | "No space left on the disk holding ...", exit 2 |
| 9 | input is a symlink loop | "leads back to itself", exit 2 |
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorme_desktop.cli import main
from colorme_desktop.core import imageio
from tests.helpers import colourful_rgb

W, H = 60, 40
GIB = 2**30
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    """What a case hands to the runner: the command line and what it may change."""

    argv: list[str]
    may_change: set[str] = field(default_factory=set)  # file names a "works" case writes
    subprocess: bool = False  # could hang or needs a real process
    signal_during_save: bool = False
    cleanup: Callable[[], None] | None = None


@dataclass
class Case:
    id: str
    setup: Callable[[Path, pytest.MonkeyPatch], Run]
    code: int
    message: str  # part of the one line on stderr ("" for a quiet success)
    check: Callable[[Path], None] | None = None


# ------------------------------------------------------------------ small files


def _grey(tmp: Path, name: str = "in.png") -> Path:
    path = tmp / name
    Image.fromarray(colourful_rgb(H, W)).convert("L").save(path)
    return path


def _old_output(tmp: Path, name: str = "out.png", mode: int = 0o644) -> Path:
    path = tmp / name
    path.write_bytes(b"an older result the user wants to keep")
    path.chmod(mode)
    return path


def _hints(tmp: Path, text: str | bytes, name: str = "h.json") -> Path:
    path = tmp / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _hints_json(entries: list[dict]) -> str:
    return json.dumps({"version": 1, "image_size": [W, H], "hints": entries})


def _fifo(tmp: Path, name: str) -> Path:
    path = tmp / name
    os.mkfifo(path)
    return path


def _pgm_header(tmp: Path, width: int, height: int) -> Path:
    """A photo that claims its size in the header and has no pixels: cheap to make."""
    path = tmp / f"claims-{width}x{height}.pgm"
    path.write_bytes(f"P5\n{width} {height}\n255\n".encode())
    return path


def _colorize(tmp: Path, *extra: str, inp: Path | None = None, out: str = "out.png") -> list[str]:
    inp = inp or _grey(tmp)
    return ["colorize", str(inp), "-o", str(tmp / out), "--engine", "levin", *extra]


# ------------------------------------------------------------------ the cases


def saturation(value: str):
    def setup(tmp, mp):
        _old_output(tmp)
        return Run(_colorize(tmp, f"--saturation={value}"))
    return setup


def nan_engine(tmp, mp):
    class NanEngine:
        name = "broken"

        def colorize(self, grey, hints, draft=False, shown=None):
            return np.full((*grey.shape, 2), np.nan, dtype=np.float32)

    mp.setattr("colorme_desktop.engines.registry.create_engine", lambda name: (NanEngine(), None))
    _old_output(tmp)
    return Run(_colorize(tmp))


def fifo_colorize(tmp, mp):
    return Run(_colorize(tmp, inp=_fifo(tmp, "pipe.png")), subprocess=True)


def fifo_palette(tmp, mp):
    return Run(["palette", str(_fifo(tmp, "pipe.jpg"))], subprocess=True)


def fifo_hints(tmp, mp):
    return Run(_colorize(tmp, "--hints", str(_fifo(tmp, "pipe.json"))), subprocess=True)


def fifo_in_eval(tmp, mp):
    photos = tmp / "photos"
    photos.mkdir()
    Image.fromarray(colourful_rgb(H, W)).save(photos / "real.png")
    _fifo(photos, "pipe.png")
    out = tmp / "report"
    return Run(["eval", str(photos), "--out", str(out), "--engines", "levin", "--hints", "0,1"],
               may_change={"eval.md", "eval.json", "eval.png"}, subprocess=True)


def check_eval_used_the_real_photo(tmp):
    assert "1 images" in (tmp / "report" / "eval.md").read_text()


def hints_text(text: str | bytes):
    def setup(tmp, mp):
        _old_output(tmp)
        return Run(_colorize(tmp, "--hints", str(_hints(tmp, text))), may_change={"out.png"})
    return setup


def check_red_hint_followed(tmp):
    r, g, b = np.asarray(Image.open(tmp / "out.png").convert("RGB"))[10, 10].astype(int)
    assert r > b + 20


def hints_at_the_limit(tmp, mp):
    from colorme_desktop.core.hints import MAX_POINTS_TOTAL

    rng = np.random.default_rng(0)
    points = rng.uniform(0, [W, H], (MAX_POINTS_TOTAL, 2))
    entries = [{"x": round(x, 2), "y": round(y, 2), "color": "#d02020", "radius": 1} for x, y in points]
    _old_output(tmp)
    return Run(_colorize(tmp, "--hints", str(_hints(tmp, _hints_json(entries)))), may_change={"out.png"})


def claimed_size(width: int, height: int, free: int = 64 * GIB):
    def setup(tmp, mp):
        mp.setattr(imageio, "available_memory", lambda: free)
        return Run(_colorize(tmp, inp=_pgm_header(tmp, width, height)))
    return setup


def weights_manifest(manifest: object):
    def setup(tmp, mp):
        import colorme_desktop.engines.weights as weights

        folder = tmp / "weights"
        folder.mkdir()
        (folder / "weights.json").write_text(json.dumps(manifest))
        mp.setattr(weights, "WEIGHTS_DIR", folder)  # every engine looks here
        argv = _colorize(tmp)
        return Run(argv[:argv.index("--engine")], may_change={"out.png"})
    return setup


def _entry(**inference) -> dict:
    """A manifest whose network entry has the shipped settings but for ``inference``."""
    from colorme_desktop.engines.weights import weights_dir

    shipped = json.loads((weights_dir() / "weights.json").read_text())["files"]["colorme_net.safetensors"]
    return {"files": {"colorme_net.safetensors": {"sha256": "0" * 64,
                                                  "inference": {**shipped["inference"], **inference}}}}


def output_symlink_to_device(tmp, mp):
    (tmp / "out.png").symlink_to(os.devnull)
    return Run(_colorize(tmp))


def check_device_kept(tmp):
    assert (tmp / "out.png").is_symlink()
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def output_read_only(tmp, mp):
    _old_output(tmp, mode=0o444)
    return Run(_colorize(tmp))


def output_symlink_loop(tmp, mp):
    (tmp / "out.png").symlink_to(tmp / "out.png")
    return Run(_colorize(tmp))


def output_is_input(*extra: str):
    def setup(tmp, mp):
        inp = _grey(tmp, "photo.png")
        inp.chmod(0o640)
        return Run(_colorize(tmp, *extra, inp=inp, out="photo.png"), may_change={"photo.png"})
    return setup


def check_input_replaced_mode_kept(tmp):
    image = Image.open(tmp / "photo.png")
    assert image.mode == "RGB" and image.size == (W, H)
    assert stat.S_IMODE((tmp / "photo.png").stat().st_mode) == 0o640


def output_mode(tmp, mp):
    _old_output(tmp, mode=0o640)
    return Run(_colorize(tmp), may_change={"out.png"})


def check_output_mode_kept(tmp):
    assert Image.open(tmp / "out.png").size == (W, H)
    assert stat.S_IMODE((tmp / "out.png").stat().st_mode) == 0o640


def output_symlink_to_file(tmp, mp):
    (tmp / "results").mkdir()
    _old_output(tmp / "results", "real.png")
    (tmp / "out.png").symlink_to(tmp / "results" / "real.png")
    return Run(_colorize(tmp), may_change={"real.png"})


def check_link_kept(tmp):
    assert (tmp / "out.png").is_symlink()
    assert Image.open(tmp / "results" / "real.png").size == (W, H)


def refused_before_colorizing(out: str):
    def setup(tmp, mp):
        def no_engine(name):
            raise AssertionError("colorizing started for an output that cannot be written")

        mp.setattr("colorme_desktop.engines.registry.create_engine", no_engine)
        return Run(_colorize(tmp, out=out))
    return setup


def sigterm_during_save(tmp, mp):
    _old_output(tmp, "out.tif")
    return Run(_colorize(tmp, out="out.tif"), subprocess=True, signal_during_save=True)


def tiff_to_full_disk(tmp, mp):
    disk = tmp / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small filesystem")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    _old_output(disk, "out.tif")
    inp = tmp / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)).save(inp)
    return Run(_colorize(tmp, inp=inp, out="disk/out.tif"),
               cleanup=lambda: subprocess.run(["umount", str(disk)], check=True))


def input_symlink_loop(tmp, mp):
    loop = tmp / "loop.png"
    loop.symlink_to(loop)
    return Run(_colorize(tmp, inp=loop))


CASES = [
    Case("1 saturation nan", saturation("nan"), 2, "--saturation: must be a number of at least 0"),
    Case("1 saturation inf", saturation("inf"), 2, "--saturation: must be a number of at least 0"),
    Case("1 saturation -inf", saturation("-inf"), 2, "--saturation: must be a number of at least 0"),
    Case("1 saturation negative", saturation("-1"), 2, "--saturation: must be a number of at least 0"),
    Case("1 NaN chroma from an engine", nan_engine, 1, "not a number (NaN or infinite); nothing was written"),
    Case("2 FIFO colorize input", fifo_colorize, 2, "pipe.png is a named pipe"),
    Case("2 FIFO palette input", fifo_palette, 2, "pipe.jpg is a named pipe"),
    Case("2 FIFO hints file", fifo_hints, 2, "pipe.json is a named pipe"),
    Case("2 FIFO among eval photos", fifo_in_eval, 0, "skipped: pipe.png is a named pipe",
         check_eval_used_the_real_photo),
    Case("3 hints nested 100000 deep", hints_text("[" * 100_000 + "]" * 100_000), 2,
         "h.json is nested too deeply"),
    Case("3 hints 401-digit number", hints_text(_hints_json([{"x": 1, "y": 1, "color": "#ffffff"}])
                                                .replace('"x": 1', '"x": ' + "9" * 401)), 2,
         "h.json: hint 1: x is far too large"),
    Case("3 colour #-1-1-1", hints_text(_hints_json([{"x": 1, "y": 1, "color": "#-1-1-1"}])), 2, "#rrggbb"),
    Case("3 colour #+f+f+f", hints_text(_hints_json([{"x": 1, "y": 1, "color": "#+f+f+f"}])), 2, "#rrggbb"),
    Case("3 colour '# f f f'", hints_text(_hints_json([{"x": 1, "y": 1, "color": "# f f f"}])), 2, "#rrggbb"),
    Case("3 hints with a UTF-8 BOM work",
         hints_text(b"\xef\xbb\xbf" + _hints_json([{"x": 10, "y": 10, "color": "#dd2020", "radius": 3}]).encode()),
         0, "", check_red_hint_followed),
    Case("4 200000 point hints work", hints_at_the_limit, 0, "", check_red_hint_followed),
    Case("5 100 MP passes the pixel limit", claimed_size(12_240, 8_170), 2, "is cut short: the file ends"),
    Case("5 160 MP refused", claimed_size(16_000, 10_000), 2, "more than the 150 megapixels"),
    Case("5 400 MP refused", claimed_size(20_000, 20_000), 2, "more than the 150 megapixels"),
    Case("5 not enough memory", claimed_size(12_240, 8_170, free=GIB), 2,
         "(100 MP) and needs about 5.6 GB of memory, but only 1.0 GB is free"),
    Case("6 weights.json []", weights_manifest([]), 0, "has no 'files' object. Using the optimization engine"),
    Case("6 weights.json null", weights_manifest(None), 0, "has no 'files' object. Using the optimization"),
    Case("6 weights.json string entry", weights_manifest({"files": {"colorme_net.safetensors": "x"}}), 0,
         "has no 'sha256'. Using the optimization engine"),
    Case("6 weights.json inference list",
         weights_manifest({"files": {"colorme_net.safetensors": {"sha256": "0" * 64, "inference": [1]}}}),
         0, "'inference' in weights.json must be an object, not list. Using the optimization"),
    Case("6 weights.json working_side big", weights_manifest(_entry(working_side="big")), 0,
         "sets working_side to 'big'; it must be a whole number from 32 to 2048. Using the optimization"),
    Case("6 weights.json working_side 200000", weights_manifest(_entry(working_side=200000)), 0,
         "sets working_side to 200000; it must be a whole number from 32 to 2048. Using the optimization"),
    Case("7 output symlink to a device", output_symlink_to_device, 2, "it is a device, not a file",
         check_device_kept),
    Case("7 read-only output", output_read_only, 2, "out.png: it is read-only"),
    Case("7 output symlink loop", output_symlink_loop, 2, "it is a symbolic link that leads back to itself"),
    Case("7 output is the input", output_is_input(), 2, "photo.png is the photo being colorized"),
    Case("7 output is the input, --overwrite", output_is_input("--overwrite"), 0, "",
         check_input_replaced_mode_kept),
    Case("7 existing output keeps its mode", output_mode, 0, "", check_output_mode_kept),
    Case("7 output symlink to a file keeps the link", output_symlink_to_file, 0, "", check_link_kept),
    Case("7 bad extension before colorizing", refused_before_colorizing("out.gifx"), 2, "choose one of"),
    Case("7 missing folder before colorizing", refused_before_colorizing("nowhere/out.png"), 2,
         "nowhere does not exist"),
    Case("8 SIGTERM during the save", sigterm_during_save, 128 + signal.SIGTERM, "stopped by SIGTERM"),
    Case("8 TIFF to a full disk", tiff_to_full_disk, 2, "out.tif failed: No space left on the disk holding"),
    Case("9 input symlink loop", input_symlink_loop, 2, "loop.png is a symbolic link that leads back to itself"),
]


def _snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` with what a user would miss if it changed."""
    found = {}
    for path in folder.rglob("*"):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            found[str(path)] = ("link", os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            found[str(path)] = ("file", path.read_bytes(), stat.S_IMODE(info.st_mode))
        else:
            found[str(path)] = ("other", stat.S_IFMT(info.st_mode))
    return found


_SIGTERM_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from PIL import Image
    from colorme_desktop.cli import main

    real_save = Image.Image.save

    def save_then_get_killed(self, fp, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the temporary file is open
        return real_save(self, fp, *args, **kwargs)

    Image.Image.save = save_then_get_killed
    sys.exit(main(sys.argv[1:]))
""")


def _run(run: Run, capsys) -> tuple[int, str]:
    if not run.subprocess:
        try:
            code = main(run.argv)
        except SystemExit as exc:  # argparse refusing an argument
            code = exc.code
        return code, capsys.readouterr().err
    command = ([sys.executable, "-c", _SIGTERM_SCRIPT] if run.signal_during_save
               else [sys.executable, "-m", "colorme_desktop"]) + run.argv
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    return result.returncode, result.stderr


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, tmp_path, monkeypatch, capsys):
    run = case.setup(tmp_path, monkeypatch)
    try:
        before = _snapshot(tmp_path)
        code, err = _run(run, capsys)
        after = _snapshot(tmp_path)
    finally:
        if run.cleanup:
            run.cleanup()
    assert code == case.code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    if lines and lines[0].startswith("usage:"):
        lines = lines[-1:]  # argparse shows the usage, then its one line
    if case.message:
        assert case.message in lines[-1], err
    if case.code != 0:
        assert len(lines) == 1, err
    for name, was in before.items():
        if case.code != 0 or Path(name).name not in run.may_change:
            assert after.get(name) == was, f"{name} changed"
    assert not [n for n in after if n.endswith(".part")], "a temporary file was left behind"
    if case.check:
        case.check(tmp_path)

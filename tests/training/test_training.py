import json
import os
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

from colorme_desktop.core.color import chroma_of, chroma_of_color, luma
from colorme_desktop.training.augment import AugmentConfig, PhotoBank
from colorme_desktop.training.evaluate import (
    evaluate,
    later_spill_of,
    simulate_eval_hints,
    simulate_eval_stroke,
    spill_of,
    stroke_spill_of,
    write_report,
)
from colorme_desktop.training.hintsim import HintConfig, simulate_hints
from colorme_desktop.training.pack import load_packed, pack_photos
from colorme_desktop.training.train import TrainConfig, soft_bin_targets, split_luma_chroma, train
from tests.helpers import colourful_rgb


def _photos(n=4):
    return [colourful_rgb(60 + 5 * i, 80, seed=i) for i in range(n)]


def test_photo_bank_crops_stay_inside_the_photo():
    bank = PhotoBank([np.full((40, 60, 3), 200, np.uint8), np.full((70, 50, 3), 200, np.uint8)],
                     torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    crops = bank.sample(16, 32, AugmentConfig(), g)
    assert crops.shape == (16, 3, 32, 32)
    assert crops.min() > 150  # never the zero padding of the canvas


def test_simulated_hints_follow_the_config():
    chroma = torch.randn(64, 2, 48, 48) * 30
    g = torch.Generator().manual_seed(0)
    hint, mask = simulate_hints(chroma, HintConfig(no_hint_share=0.5, reveal_all_share=0.0), g)
    per_sample = mask.sum(dim=(1, 2, 3))
    assert 15 < (per_sample == 0).sum() < 50
    assert ((hint != 0) <= (mask != 0)).all()  # colour only where the mask is set
    revealed, mask_all = simulate_hints(chroma, HintConfig(reveal_all_share=1.0, no_hint_share=0.0), g)
    assert mask_all.all() and torch.allclose(revealed, chroma)


def test_hint_colour_is_the_local_mean():
    chroma = torch.zeros(1, 2, 32, 32)
    chroma[:, 0] = 25.0
    g = torch.Generator().manual_seed(1)
    config = HintConfig(no_hint_share=0.0, reveal_all_share=0.0, geometric_p=0.2)
    hint, mask = simulate_hints(chroma, config, g)
    assert mask.sum() > 0 and torch.allclose(hint[:, 0][mask[:, 0] > 0], torch.tensor(25.0), atol=1e-3)


def test_soft_targets_sum_to_one_and_recover_the_value():
    from colorme_desktop.engines.chroma_bins import bin_centres

    chroma = torch.tensor([[[[13.0]], [[-40.0]]]])
    target = soft_bin_targets(chroma)
    assert torch.isclose(target.sum(), torch.tensor(1.0))
    recovered = torch.einsum("bkhw,kc->bchw", target, torch.from_numpy(bin_centres()))
    assert torch.allclose(recovered.flatten(), torch.tensor([13.0, -40.0]), atol=1e-3)


def test_luma_in_torch_matches_core():
    from colorme_desktop.core.color import chroma_of, luma

    rgb = colourful_rgb()
    grey, chroma = split_luma_chroma(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())
    assert np.abs(grey[0, 0].numpy() - luma(rgb)).max() <= 1
    assert np.abs(chroma[0].permute(1, 2, 0).numpy() - chroma_of(rgb)).max() < 1e-3


def _gathered_cache(folder, count, val=0):
    """A cache folder as ``gather`` leaves it: photos/ and manifest.json."""
    (folder / "photos").mkdir()
    entries = []
    for i, rgb in enumerate(_photos(count)):
        Image.fromarray(rgb).save(folder / "photos" / f"{i}.png")
        entries.append({"file": f"{i}.png", "split": "val" if i < val else "train"})
    (folder / "manifest.json").write_text(json.dumps({"photos": entries}))


def test_pack_round_trip(tmp_path):
    _gathered_cache(tmp_path, 3, val=1)
    packed = pack_photos(tmp_path, tmp_path / "out" / "photos.npz")
    assert len(load_packed(packed, "train")) == 2 and len(load_packed(packed, "val")) == 1


def test_tiny_training_run_resumes(tmp_path):
    config = TrainConfig(size=64, batch=2, max_steps=3, minutes=5, checkpoint_seconds=1e9, log_every=1)
    first = train(tmp_path, tmp_path / "run", config, "cpu", photos=_photos())
    assert first["steps"] == 3 and np.isfinite(first["history"][-1]["loss"])
    config.max_steps = 5
    second = train(tmp_path, tmp_path / "run", config, "cpu", photos=_photos())
    assert second["steps"] == 5  # continued from step 3, not from zero
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 5


def test_training_runs_unchanged_under_torchrun(tmp_path):
    """DistributedDataParallel with gloo on CPU, two processes."""
    _gathered_cache(tmp_path, 4)
    pack_photos(tmp_path, tmp_path / "packed" / "photos.npz")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
         "-m", "colorme_desktop.training.train", "--data", str(tmp_path / "packed"), "--out",
         str(tmp_path / "ddp"), "--max-steps", "3", "--batch", "2", "--size", "64", "--threads", "1"],
        capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["samples"] == 3 * 2 * 2  # both processes' samples


def test_evaluation_table_and_plot(tmp_path):
    for i, rgb in enumerate(_photos(2)):
        Image.fromarray(rgb).save(tmp_path / f"{i}.png")
    from colorme_desktop.engines.levin import LevinEngine
    from colorme_desktop.training.evaluate import list_photos

    result = evaluate(list_photos(tmp_path), {"levin": LevinEngine().colorize}, counts=(0, 5, 50))
    assert result.images == 2
    assert result.psnr["levin"][0] == result.psnr["grey"][0]  # no hints: the grey image
    assert result.psnr["levin"][50] > result.psnr["grey"][50] + 1
    write_report(result, tmp_path / "report")
    assert (tmp_path / "report" / "eval.png").stat().st_size > 1000
    report = (tmp_path / "report" / "eval.md").read_text()
    assert "levin" in report and "| stroke spill | stroke achieved |" in report
    assert result.stroke_spill["levin"] > 0.5  # Levin's engine tints the whole photo
    assert "| spill of hint 10 |" in report and 0 < result.later_spill["levin"] < result.spill["levin"]


def test_eval_hints_use_the_patch_mean():
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[:, :, 0] = 100
    hints = simulate_eval_hints(rgb, 3, seed=0)
    assert len(hints) == 3 and all(h.color == (100, 0, 0) and h.radius == 2 for h in hints)


def test_eval_strokes_stay_on_one_colour_and_their_spill_tells_a_tint_from_a_stroke():
    """The strokes' spill: a stroke runs along one true colour, and an engine that tints
    the whole photo with it spills where one that colours only the stroke does not."""
    rgb = np.full((120, 160, 3), (60, 160, 70), np.uint8)  # grass ...
    rgb[30:90, 40:120] = (200, 40, 40)  # ... around a red blanket
    strokes = [simulate_eval_stroke(rgb, seed) for seed in range(12)]
    assert all(s is not None and len(s.points) >= 4 for s in strokes)
    for stroke in strokes:
        chroma = chroma_of(rgb)
        ends = [chroma[int(y), int(x)] for x, y in (stroke.points[0], stroke.points[-1])]
        assert np.linalg.norm(ends[0] - ends[1]) < 1.0  # one colour from end to end
        assert np.linalg.norm(np.array(chroma_of_color(stroke.color)) - ends[0]) < 10  # its colour
    grey = luma(rgb)
    base = np.repeat(grey[..., None], 3, axis=2)

    def tint_everything(g, hints):
        out = np.zeros((*g.shape, 2), np.float32)
        for hint in hints:
            out[:] = chroma_of_color(hint.color)
        return out

    def colour_the_stroke(g, hints):
        out = np.zeros((*g.shape, 2), np.float32)
        for hint in hints:
            for x, y in hint.points:
                out[max(0, int(y) - 2):int(y) + 3, max(0, int(x) - 2):int(x) + 3] = chroma_of_color(hint.color)
        return out

    tinted = stroke_spill_of(tint_everything, grey, rgb, base, seed=3, count=6)
    exact = stroke_spill_of(colour_the_stroke, grey, rgb, base, seed=3, count=6)
    assert tinted and len(tinted) == len(exact)
    assert min(s for s, _ in tinted) > 0.5 and max(s for s, _ in exact) < 0.01
    assert all(abs(a - 1.0) < 0.05 for _, a in exact)  # the stroke got what it asked for


def test_a_later_hint_spills_where_it_makes_the_earlier_ones_reach_further():
    """An engine whose hints tint more of the photo the more of them there are spills
    nothing with one hint, which the single hints' spill measures, and a lot with a
    tenth, which the later hint's spill measures; one that colours only each hint's own
    patch spills with neither."""
    rgb = np.full((120, 160, 3), (60, 160, 70), np.uint8)  # grass ...
    rgb[30:90, 40:120] = (200, 40, 40)  # ... around a red blanket
    grey = luma(rgb)
    base = np.repeat(grey[..., None], 3, axis=2)

    def patches(out, hints):
        for hint in hints:
            x, y = (int(v) for v in hint.points[0])
            out[max(0, y - 2):y + 3, max(0, x - 2):x + 3] = chroma_of_color(hint.color)
        return out

    def creeping(g, hints):
        tint = np.mean([chroma_of_color(h.color) for h in hints], axis=0) * (1 - 1 / len(hints)) if hints else 0
        return patches(np.zeros((*g.shape, 2), np.float32) + np.float32(tint), hints)

    def exact(g, hints):
        return patches(np.zeros((*g.shape, 2), np.float32), hints)

    alone = spill_of(creeping, grey, rgb, base, seed=4, count=6)
    later = later_spill_of(creeping, grey, rgb, seed=4, count=6)
    assert alone and later
    assert max(s for s, _ in alone) < 0.01 and min(s for s, _ in later) > 0.02
    assert max(s for s, _ in later_spill_of(exact, grey, rgb, seed=4, count=6)) < 0.01


def test_contact_sheet_rows_are_as_tall_as_their_photos(tmp_path):
    from colorme_desktop.training.contact_sheet import COLUMNS, TILE, make_sheet

    wide, tall = tmp_path / "a" / "wide.png", tmp_path / "b" / "tall.png"
    for path, size in ((wide, (400, 100)), (tall, (100, 300))):
        path.parent.mkdir()
        Image.fromarray(colourful_rgb(size[1], size[0])).save(path)
    asked = []

    def colorize(grey, hints):
        asked.append(len(hints))
        return np.zeros((*grey.shape, 2), np.float32)

    sheet = make_sheet([wide, tall], colorize)
    assert sheet.width == TILE * len(COLUMNS)
    assert sheet.height == 24 + TILE // 4 + TILE  # the wide photo's row is a quarter of a tile tall
    assert asked == [0, 5, 20, 0, 5, 20]

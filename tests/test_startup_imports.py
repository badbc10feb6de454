"""Start-up imports only what runs: each check in a fresh interpreter, as a user's launch is."""

import os
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("torch", "timm", "torchvision", "sklearn")


def _imported_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + "\nimport sys\nprint(' '.join(sorted(set(m.split('.')[0] for m in sys.modules))))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr[-2000:]
    return set(done.stdout.splitlines()[-1].split())


def test_the_window_shows_without_torch_or_scikit_learn():
    modules = _imported_after("""
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from colorme_desktop.ui.main_window import MainWindow
        MainWindow().show()
        app.processEvents()
    """)
    assert "PySide6" in modules
    assert not modules & set(HEAVY)


@pytest.mark.parametrize("draft", [False, True])
def test_the_semantic_engine_runs_without_timm_or_torchvision(draft):
    """The default engine's whole path: build, automatic colour and a hint, never timm."""
    modules = _imported_after(f"""
        import numpy as np, torch
        from colorme_desktop.core.hints import point_hint
        from colorme_desktop.engines.dinov2 import Dinov2Small
        from colorme_desktop.engines.semantic import SemanticColorHead
        from colorme_desktop.engines.semantic_engine import SemanticEngine, SemanticSettings
        from colorme_desktop.engines import registry
        settings = SemanticSettings(temperature=0.6, blend=0.5, chroma_scale=1.0, working_side=64, draft_side=32,
                                    feature_softness=0.1, grey_cap=5e-4, decay=1e-4, decay_power=1.0,
                                    nonlocal_softness=0.0,
                                    hints_share=1e9)
        engine = SemanticEngine(Dinov2Small().eval(), SemanticColorHead().eval(), settings)
        grey = np.tile(np.arange(96, dtype=np.uint8), (64, 1))
        engine.colorize(grey, [])
        engine.colorize(grey, [point_hint(10, 10, (200, 30, 30))], draft={draft})
    """)
    assert "torch" in modules
    assert not modules & {"timm", "torchvision"}

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
def test_the_semantic_engine_runs_without_torch(draft):
    """The default engine's whole path: the shipped weights, automatic colour, a hint and
    the palette, all in numpy (``engines.numpy_nets``): torch alone is 470 MB and 1.5-5 s to import."""
    modules = _imported_after(f"""
        import numpy as np
        from colorme_desktop.core.hints import point_hint
        from colorme_desktop.engines import registry
        engine, note = registry.create_engine()
        assert engine.name == "semantic", note
        grey = np.tile(np.arange(96, dtype=np.uint8), (64, 1))
        assert np.abs(engine.colorize(grey, [])).max() > 0
        chroma = engine.colorize(grey, [point_hint(10, 10, (200, 30, 30))], draft={draft})
        from colorme_desktop.core.color import compose
        from colorme_desktop.core.palette import vivid_colors
        assert vivid_colors(compose(grey, chroma))  # the palette that follows every result
    """)
    assert not modules & set(HEAVY)

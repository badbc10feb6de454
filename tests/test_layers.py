"""The layers of STYLE.md: core needs neither Qt nor torch, engines need no Qt."""

import subprocess
import sys

import pytest

CHECK = """
import importlib, pkgutil, sys
import colorme_desktop.{layer} as layer
for info in pkgutil.walk_packages(layer.__path__, layer.__name__ + "."):
    importlib.import_module(info.name)
print(",".join(sorted(name for name in {forbidden!r} if name in sys.modules)))
"""


@pytest.mark.parametrize("layer, forbidden", [
    ("core", ["PySide6", "torch", "timm", "colorme_desktop.engines", "colorme_desktop.ui"]),
    ("engines", ["PySide6", "colorme_desktop.ui", "colorme_desktop.training"]),
])
def test_layer_imports_nothing_above_it(layer, forbidden):
    result = subprocess.run([sys.executable, "-c", CHECK.format(layer=layer, forbidden=forbidden)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1500:]
    assert result.stdout.strip() == "", f"{layer} imports {result.stdout.strip()}"

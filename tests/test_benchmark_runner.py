"""benchmarks/run.py writes {name: number} JSON (speed itself is never asserted in tests)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_writes_numbers_with_units_in_their_names(tmp_path):
    output = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", "imports",
                           "--output", str(output)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(output.read_text(encoding="utf-8"))
    assert set(results) == {"import_window_s", "import_semantic_engine_s", "import_neural_engine_s"}
    assert all(isinstance(v, float) and v > 0 for v in results.values())
    assert "import_window_s" in done.stdout  # the table

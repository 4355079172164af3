"""`logsentry analyze` and the daemon's analysis run the model without torch: with a `torch`
that fails on import first on the path of every process they start, they still label lines,
and torch is not among the modules they loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import logsentry

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(logsentry.__file__).resolve().parent / "samples"
POISON = 'raise ImportError("torch was imported at run time")\n'


@pytest.fixture
def without_torch(tmp_path: Path) -> dict[str, str]:
    """The environment of a process (and its children) in which `import torch` fails."""
    package = tmp_path / "torch"
    package.mkdir()
    (package / "__init__.py").write_text(POISON, encoding="utf-8")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}


def run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=240, check=False)


def test_analyze_alerts_runs_the_model_without_torch(without_torch: dict[str, str]) -> None:
    code = f"""
import sys
from logsentry.cli import main
status = main(["analyze", "--alerts", "--format", "jsonl", "--workers", "2",
               {str(SAMPLES / "ssh_bruteforce.log")!r}])
print("torch loaded:", "torch" in sys.modules, file=sys.stderr)
sys.exit(status)
"""
    done = run(code, without_torch)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch loaded: False" in done.stderr
    assert "torch was imported" not in done.stderr
    assert '"ssh' in done.stdout  # the brute force was labelled and alerted on


def test_the_daemons_analysis_workers_run_without_torch(without_torch: dict[str, str]) -> None:
    code = """
import sys
from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.loader import close_analyzer, load_analyzer
from logsentry.analysis.workers import ProcessPoolAnalyzer
# No caches: every line, a distinct structure, reaches the network, in batches enough to
# spread over the workers.
analyzer = load_analyzer(AnalysisConfig(workers=2, threads=1, cache_size=0))
assert isinstance(analyzer, ProcessPoolAnalyzer)
assert analyzer.wait_ready(200), "the workers did not start"
def name(i):
    return "".join(chr(97 + i // 26 ** k % 26) for k in range(3))
lines = [f"Failed password for invalid user {name(i)} from 203.0.113.{i % 250} port 22 ssh2"
         f" {name(7 * i)}" for i in range(200)]
results = analyzer.analyze_batch(lines)
assert analyzer.failed_lines == 0 and analyzer.workers == 2
assert results[0].action == "ssh_login_failed", results[0]
close_analyzer(analyzer)
print("torch loaded:", "torch" in sys.modules)
"""
    done = run(code, without_torch)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch loaded: False" in done.stdout
    assert "torch was imported" not in done.stderr

"""The layering in pyproject.toml's import-linter contracts holds, and a check would catch a break."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=300)


def _lint_with(tmp_path: Path, module: str, imported: str) -> str:
    """lint-imports' report on a copy of the repository in which ``module`` (a path) also imports ``imported``."""
    for name in ("memscore_core", "flows"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    source = tmp_path / module
    source.write_text(source.read_text() + f"\nimport {imported}  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout
    return " ".join(done.stdout.split())


def test_the_repository_keeps_every_import_contract() -> None:
    done = _lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_model_importing_scoring_breaks_the_layers_contract(tmp_path: Path) -> None:
    report = _lint_with(tmp_path, "memscore_core/model/conversation.py", "memscore_core.scoring.run")
    assert "memscore_core.model.conversation -> memscore_core.scoring.run" in report


def test_the_store_importing_a_strategy_breaks_its_contract(tmp_path: Path) -> None:
    report = _lint_with(tmp_path, "memscore_core/store/targets.py", "memscore_core.strategies.exact")
    assert "never import how scoring is done BROKEN" in report


def test_the_backend_protocol_importing_a_backend_breaks_its_contract(tmp_path: Path) -> None:
    report = _lint_with(tmp_path, "memscore_core/backends/protocol.py", "memscore_core.backends.vllm")
    assert "imports nothing concrete BROKEN" in report

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


def _copy(tmp_path: Path) -> Path:
    for name in ("memscore_core", "flows"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_every_import_contract() -> None:
    done = _lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_model_importing_scoring_breaks_the_layers_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    conversation = root / "memscore_core" / "model" / "conversation.py"
    conversation.write_text(conversation.read_text() + "\nimport memscore_core.scoring.run  # noqa\n")
    done = _lint(root)
    assert done.returncode == 1
    assert "memscore_core.model.conversation -> memscore_core.scoring.run" in done.stdout


def test_the_store_importing_a_strategy_breaks_its_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    store = root / "memscore_core" / "store" / "targets.py"
    store.write_text(store.read_text() + "\nimport memscore_core.strategies.exact  # noqa\n")
    done = _lint(root)
    assert done.returncode == 1
    assert "never import how scoring is done BROKEN" in " ".join(done.stdout.split())


def test_the_backend_protocol_importing_a_backend_breaks_its_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    protocol = root / "memscore_core" / "backends" / "protocol.py"
    protocol.write_text(protocol.read_text() + "\nimport memscore_core.backends.vllm  # noqa\n")
    done = _lint(root)
    assert done.returncode == 1
    assert "imports nothing concrete BROKEN" in " ".join(done.stdout.split())

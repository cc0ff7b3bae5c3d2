"""`memscore models` lists the models the embedded server can load; `--model-dir` picks the one it loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from memscore_core.settings import DEFAULT_MODEL_DIR, REPO_ROOT
from tests.support.models import require_smollm2

SHIPPED = ["memscore-tiny", "memscore-tiny-2", "memscore-tiny-3"]


def memscore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "MEMSCORE_MODEL_DIR"}
    return subprocess.run([sys.executable, "-m", "memscore_core.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO_ROOT, env={**environment, **(env or {})})


def listed(*args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    done = memscore("models", "--json", *args, env=env)
    assert done.returncode == 0, done.stderr
    return {row["name"]: row for row in json.loads(done.stdout)}


@pytest.fixture(scope="module")
def own_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """memscore-tiny copied outside data/models under another name."""
    return Path(shutil.copytree(DEFAULT_MODEL_DIR, tmp_path_factory.mktemp("models") / "my-model"))


def test_models_lists_every_shipped_model_with_memscore_tiny_as_the_default() -> None:
    models = listed()
    assert set(SHIPPED) <= set(models)
    assert [name for name, row in models.items() if row["default"]] == ["memscore-tiny"]
    tiny = models["memscore-tiny"]
    assert (tiny["parameters"], tiny["layers"], tiny["hidden_size"], tiny["vocab_size"]) == (656_512, 2, 128, 1024)
    assert tiny["size_bytes"] == sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir())
    assert tiny["template"] == {"chatml": True, "default_system_prompt": None, "think": True, "tools": True}


def test_a_model_dir_outside_data_models_is_listed_and_is_the_default(own_model: Path) -> None:
    for models in (listed("--model-dir", str(own_model)), listed(env={"MEMSCORE_MODEL_DIR": str(own_model)})):
        assert [name for name, row in models.items() if row["default"]] == ["my-model"]
        assert models["my-model"]["path"] == str(own_model)


def test_the_table_marks_the_default_and_describes_each_template() -> None:
    done = memscore("models")
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "memscore-tiny " in line)
    assert "*" in row and "ChatML, no default system, <think>, tools" in row


def test_smollm2_is_listed_with_its_default_system_prompt_and_without_think_or_tools() -> None:
    require_smollm2()
    smollm2 = listed()["smollm2-135m-instruct"]
    assert (smollm2["parameters"], smollm2["layers"], smollm2["hidden_size"]) == (134_515_008, 30, 576)
    assert smollm2["template"] == {
        "chatml": True, "think": False, "tools": False,
        "default_system_prompt": "You are a helpful AI assistant named SmolLM, trained by Hugging Face"}


@pytest.mark.parametrize("command", [["models"], ["score", "data/conversations/sample.jsonl"],
                                     ["eval", "data/conversations/sample.jsonl"]])
def test_a_model_dir_without_a_model_is_one_error_line(tmp_path: Path, command: list[str]) -> None:
    done = memscore(*command, "--model-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: no model in {tmp_path}: config.json is missing "
                                                "(`make models` installs data/models/smollm2-135m-instruct; "
                                                "`memscore models` lists what is installed)"]


def test_score_with_model_dir_scores_on_that_model_under_its_directory_name(own_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text((REPO_ROOT / "data" / "conversations" / "sample.jsonl").read_text().splitlines()[0] + "\n")
    db = tmp_path / "own.duckdb"
    done = memscore("score", str(source), "--model-dir", str(own_model), "--db", str(db), "--no-cache")
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT DISTINCT model FROM results").fetchall() == [("my-model",)]

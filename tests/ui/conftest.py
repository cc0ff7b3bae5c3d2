"""A small corpus scored once on the embedded model: the sample conversations and one whose memory keys and id
hold HTML and quotes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memscore_core.settings import REPO_ROOT

SAMPLE = REPO_ROOT / "data" / "conversations" / "sample.jsonl"
SCRIPT_KEY = '<script>document.title="pwned"</script>'
QUOTE_KEY = "notes/it's \"quoted\""
TRICKY_ID = 'tricky "one" <i>x</i>'
TRICKY = {
    "id": TRICKY_ID,
    "system_prompt": "You are a concise assistant. Answer from the notes you have about the user.",
    "entries": [
        {"role": "tool", "content": "The user's locker code is Vomblixt.", "memory_key": SCRIPT_KEY,
         "tool_call_id": "call_1"},
        {"role": "tool", "content": "The user's cat is called Quenthra.", "memory_key": QUOTE_KEY,
         "tool_call_id": "call_2"},
        {"role": "user", "content": "What is my locker code?"},
        {"role": "assistant", "content": "Your locker code is Vomblixt."},
        {"role": "user", "content": "What is my cat called?"},
        {"role": "assistant", "content": "Your cat is called Quenthra."},
    ],
}


def memscore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memscore_core.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO_ROOT, env=dict(os.environ))


@pytest.fixture(scope="session")
def scored_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus scored by `memscore score` on the embedded default; the store's path."""
    folder = tmp_path_factory.mktemp("ui-corpus")
    shutil.copy(SAMPLE, folder / "sample.jsonl")
    (folder / "tricky.jsonl").write_text(json.dumps(TRICKY) + "\n", encoding="utf-8")
    db = folder / "ui.duckdb"
    done = memscore("score", str(folder), "--db", str(db), "--no-cache")
    assert done.returncode == 0, done.stderr
    return db


@pytest.fixture
def store_copy(scored_corpus: Path, tmp_path: Path) -> Path:
    """A copy of the scored store a test may change."""
    copy = tmp_path / "ui.duckdb"
    shutil.copy(scored_corpus, copy)
    return copy

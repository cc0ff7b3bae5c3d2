"""Results read back in batches, and one store connection per command whatever the number of conversations.

Connections are counted for real: every database the store opens goes through its own factory
(:func:`memscore_core.store.connections.open_database`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.store import Store
from memscore_core.store.connections import opened
from memscore_core.synth.generator import generate_corpus
from tests.store.conftest import conversation, score_of
from tests.support.servers import local_server

MATRIX = [[3.0, 0.0], [0.5, 2.0]]


def filled(path: Path, conversations: int) -> tuple[Store, list[tuple[str, str, str]]]:
    """A DuckDB file with ``conversations`` results written in one batch; their keys."""
    store = Store(path)
    keys: list[tuple[str, str, str]] = []

    def write(_: object) -> None:
        for n in range(conversations):
            conv = conversation(f"c{n}")
            score = score_of(conv, [[n + 1.0, 0.0], [0.5, None]])
            store.upsert_conversation(conv, score.content_hash, "convs.jsonl")
            store.write_result("run", score, "cfg")
            keys.append((score.content_hash, "tiny", "cfg"))

    store.write(write, keyed=False)
    return Store(path), keys


def connections_of(work: Callable[[], object]) -> int:
    before = opened()
    work()
    return opened() - before


def test_many_results_are_read_on_one_connection(tmp_path: Path) -> None:
    few, few_keys = filled(tmp_path / "few.duckdb", 3)
    many, many_keys = filled(tmp_path / "many.duckdb", 40)
    assert connections_of(lambda: few.results(few_keys)) == connections_of(lambda: many.results(many_keys)) == 1


def test_batched_results_equal_the_results_read_one_by_one(any_store: Store) -> None:
    keys = []
    for n in range(3):
        conv = conversation(f"c{n}")
        score = score_of(conv, MATRIX if n else [[None, 1.0], [2.0, None]])
        any_store.upsert_conversation(conv, score.content_hash, "convs.jsonl")
        any_store.write_result("run", score, "cfg")
        keys.append((score.content_hash, "tiny", "cfg"))
    missing = ("no-such-hash", "tiny", "cfg")
    assert any_store.results([*keys, missing]) == {key: any_store.result(*key) for key in keys}


def test_a_held_store_opens_its_file_once_for_every_call_inside(tmp_path: Path) -> None:
    store, keys = filled(tmp_path / "held.duckdb", 5)

    def calls() -> None:
        with store:
            store.top_memories()
            for key in keys:
                store.result(*key)
            store.record_run_start(model="tiny", backend="x", strategy="exact", config={}, config_hash="cfg")

    assert connections_of(calls) == 1
    assert store.count("scoring_runs") == 1


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``memscore serve --no-forward-pass``: the real tokenizer and template, answers in milliseconds."""
    with local_server(tmp_path_factory.mktemp("stand-in"), "--no-forward-pass") as base_url:
        yield base_url


def scored_corpus(stand_in: str, root: Path, conversations: int) -> tuple[Path, Path]:
    corpus, db = root / f"corpus-{conversations}.jsonl", root / f"scores-{conversations}.duckdb"
    corpus.write_bytes(b"".join(orjson.dumps(c.model_dump(mode="json")) + b"\n"
                                for c in generate_corpus(conversations, seed=3)))
    done = CliRunner().invoke(app, ["score", str(corpus), "--db", str(db), "--base-url", stand_in, "--no-cache"])
    assert done.exit_code == 0, done.output
    return corpus, db


@pytest.fixture(scope="module")
def scored(stand_in: str, tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("scored")
    return {n: scored_corpus(stand_in, root, n) for n in (3, 24)}


def command_connections(*args: str) -> tuple[int, str]:
    before = opened()
    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return opened() - before, done.stdout


def test_a_score_json_rerun_opens_as_many_connections_for_24_conversations_as_for_3(
        scored: dict[int, tuple[Path, Path]], stand_in: str) -> None:
    counts = {}
    for n, (corpus, db) in scored.items():
        counts[n], out = command_connections("score", str(corpus), "--db", str(db), "--base-url", stand_in, "--json")
        assert len(out.splitlines()) == n
    assert counts[3] == counts[24]


@pytest.mark.parametrize("command", [["top", "--json"], ["weights"], ["review", "list", "--json"],
                                     ["export", "--threshold", "0"], ["show", "FIRST", "--json"]])
def test_each_query_command_opens_as_many_connections_for_24_conversations_as_for_3(
        scored: dict[int, tuple[Path, Path]], command: list[str], tmp_path: Path) -> None:
    counts = {}
    for n, (corpus, db) in scored.items():
        first = json.loads(corpus.read_text().splitlines()[0])["id"]
        extra = {"weights": ["--out", str(tmp_path / f"w{n}.json")], "export": ["--out", str(tmp_path / f"e{n}")]}
        args = [first if arg == "FIRST" else arg for arg in command]
        counts[n], _ = command_connections(*args, "--db", str(db), *extra.get(command[0], []))
    assert counts[3] == counts[24] <= 3

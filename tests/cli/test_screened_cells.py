"""show, top, report and export say which cells were screened, and count exact cells only.

The fixture is one synthetic conversation of 16 memories (2 used, one chunk) scored with ``hierarchical`` on the
embedded model into a real DuckDB file, through the same lifecycle as ``memscore score``.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import polars as pl
import pytest
from typer.testing import CliRunner

from memscore_core.cli import app
from memscore_core.config import ScoringConfig
from memscore_core.store import Store, StoredResult
from tests.store.conftest import conversation, score_of
from tests.store.test_screening_store import hierarchical_score
from tests.support.embedded_runs import chunk_tokens, run, synth_many

LEGEND = "~ screened estimate, not exact"


class Scored(NamedTuple):
    db: Path
    result: StoredResult


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Scored:
    directory = tmp_path_factory.mktemp("screened")
    loaded = synth_many(directory / "many.jsonl", memories=16, used=2)
    store = Store(directory / "memscore.duckdb")
    summary = run(store, loaded, ScoringConfig(strategy="hierarchical", chunk_tokens=chunk_tokens(loaded)))
    assert (summary.scored, summary.failed) == (1, [])
    result = store.latest_result(loaded.conversations[0].conversation.id)
    assert result is not None
    exact, screened = result.cell_counts()
    assert exact > 0 and screened > 0
    return Scored(store.path, result)


def memscore(*args: str) -> str:
    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.stdout


def table_rows(text: str) -> list[list[str]]:
    """The body rows of a printed table, each as its stripped cells."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]


def screened_columns(result: StoredResult, m: int) -> list[int]:
    return [j for j in range(len(result.response_entry_indices)) if result.screened_cell(m, j) is not None]


def column_counts(result: StoredResult, j: int) -> tuple[int, int]:
    """(exact, screened) cells of response column ``j``."""
    rows = range(len(result.memory_keys))
    return (sum(result.matrix[m][j] is not None for m in rows),
            sum(result.screened_cell(m, j) is not None for m in rows))


def test_show_prints_each_screened_cell_as_a_tilde_estimate_and_a_legend(scored: Scored) -> None:
    result = scored.result
    out = memscore("show", result.conversation_id, "--db", str(scored.db))
    expected = []
    for m, row in enumerate(result.matrix):
        cells = [f"{v:.2f}" if v is not None else f"~{s:.2f}" if (s := result.screened_cell(m, j)) is not None
                 else "—" for j, v in enumerate(row)]
        exact_row = any(v is not None for v in row)
        expected.append(cells + [f"{result.memory_weights[m]:.3f}" if exact_row else "—"])
    assert [row[1:] for row in table_rows(out)] == expected
    exact, screened = result.cell_counts()
    assert f"{LEGEND} ({screened} cells screened, {exact} exact; importance sums exact cells)\n" in out


def test_show_json_carries_the_screened_estimates_fit_r2_and_the_noise_floor(scored: Scored) -> None:
    shown = json.loads(memscore("show", scored.result.conversation_id, "--db", str(scored.db), "--json"))
    assert shown["screened"] == scored.result.screened
    assert shown["fit_r2"] is None
    assert (shown["noise_floor"], shown["noise_floor_method"]["method"]) == (scored.result.noise_floor, "filler")


def test_top_weighs_exact_cells_only_and_counts_each_memorys_screened_cells(scored: Scored) -> None:
    result = scored.result
    listed = {row["memory_key"]: row for row in json.loads(memscore("top", "--db", str(scored.db), "--json",
                                                                    "--limit", "100"))}
    for m, key in enumerate(result.memory_keys):
        exact = [v for v in result.matrix[m] if v is not None]
        assert (listed[key]["importance"], listed[key]["cells"], listed[key]["screened"]) == (
            pytest.approx(sum(exact)) if exact else None, len(exact), len(screened_columns(result, m)))


def test_top_prints_a_memory_with_only_screened_cells_last_with_no_importance(scored: Scored) -> None:
    result = scored.result
    rows = table_rows(memscore("top", "--db", str(scored.db), "--limit", "100"))
    only_screened = sorted(key for m, key in enumerate(result.memory_keys)
                           if all(v is None for v in result.matrix[m]))
    width = len(result.response_entry_indices)
    assert [row[:7] for row in rows[-len(only_screened):]] == [
        [key, "1", "—", "—", "—", "0", str(width)] for key in only_screened]


class _Report(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.screening = ""
        self.rows: list[list[str]] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p" and dict(attrs).get("id") == "screening":
            self._in = "screening"
        elif tag == "tr" and self._in in ("table", "row"):
            self._in = "row"
            self.rows.append([])
        elif tag == "table" and dict(attrs).get("id") == "screened":
            self._in = "table"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "table"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "screening":
            self.screening += data
        elif self._in == "row" and data.strip():
            self.rows[-1].append(data)


def test_the_report_says_how_many_cells_were_screened_and_where(scored: Scored) -> None:
    result = scored.result
    out = scored.db.parent / "report.html"
    memscore("report", result.conversation_id, "--db", str(scored.db), "--out", str(out))
    page = _Report()
    page.feed(out.read_text())
    exact, screened = result.cell_counts()
    assert page.screening == (f"{screened} of {exact + screened} cells are screened estimates, not exact (hatched in "
                              "the heatmap); importance sums exact cells only.")
    labels = result.column_labels()
    assert page.rows[1:] == [[key, str(len(columns)), ", ".join(labels[j] for j in columns)]
                             for m, key in enumerate(result.memory_keys) if (columns := screened_columns(result, m))]


def exported(db: Path, fmt: str, *extra: str) -> Path:
    out = db.parent / "exports"
    memscore("export", "--db", str(db), "--format", fmt, "--out", str(out), "--threshold", "0", "--name", fmt,
             *extra)
    return out / fmt


def expected_counts(result: StoredResult) -> list[dict[str, int]]:
    """Each response's exact and screened cells, in export order (by response entry)."""
    return [{"exact_cells": exact, "screened_cells": screened}
            for exact, screened in (column_counts(result, j) for j in range(len(result.response_entry_indices)))]


def test_an_sft_export_flags_each_examples_exact_and_screened_cells(scored: Scored) -> None:
    directory = exported(scored.db, "sft")
    records = [json.loads(line) for line in (directory / "train.jsonl").read_text().splitlines()]
    counts = expected_counts(scored.result)
    assert [{k: r[k] for k in ("exact_cells", "screened_cells")} for r in records] == counts
    manifest = json.loads((directory / "manifest.json").read_text())
    exact, screened = scored.result.cell_counts()
    assert manifest["cells"] == {"exact": exact, "screened": screened,
                                 "examples_with_screened_cells": sum(1 for c in counts if c["screened_cells"])}


def test_a_parquet_export_flags_each_rows_exact_and_screened_cells(scored: Scored) -> None:
    frame = pl.read_parquet(exported(scored.db, "parquet") / "train.parquet")
    assert frame.select("exact_cells", "screened_cells").to_dicts() == expected_counts(scored.result)


def test_a_dpo_export_flags_each_examples_exact_and_screened_cells(scored: Scored, server: str) -> None:
    directory = exported(scored.db, "dpo", "--base-url", server)
    records = [json.loads(line) for line in (directory / "train.jsonl").read_text().splitlines()]
    assert [{k: r[k] for k in ("exact_cells", "screened_cells")} for r in records] == expected_counts(scored.result)


@pytest.fixture
def column_sum_db(tmp_path: Path) -> Path:
    """A hierarchical result without drop-all: r3's exact column sum is 3.0 (pets/dog); pets/cat's screened 0.5
    must not count."""
    store = Store(tmp_path / "memscore.duckdb")
    score = hierarchical_score().model_copy(update={"drop_all": [None, None]})
    run_id = store.record_run_start(model="tiny", backend="embedded", strategy="hierarchical", config={},
                                    config_hash="cfg")
    store.upsert_conversation(conversation(), score.content_hash, "convs.jsonl")
    store.write_result(run_id, score, "cfg")
    return store.path


def test_a_candidate_ranked_by_its_column_sum_counts_exact_cells_only(column_sum_db: Path) -> None:
    listed = json.loads(memscore("review", "list", "--db", str(column_sum_db), "--threshold", "0", "--json"))
    assert [(c["response_entry_idx"], c["dependence"]) for c in listed] == [(3, 3.0 / 4), (5, 0.0)]
    frame = pl.read_parquet(exported(column_sum_db, "parquet") / "train.parquet")
    assert frame.select("response_entry_idx", "dependence", "exact_cells", "screened_cells").rows() == [
        (3, 0.75, 1, 1), (5, 0.0, 1, 1)]


def test_show_prints_a_surrogates_fit_r2_under_its_columns(tmp_path: Path) -> None:
    weights: list[list[float | None]] = [[1.5, -0.25], [0.25, 2.0]]
    score = score_of(conversation(), [[None, None], [None, None]]).model_copy(update={
        "strategy": "surrogate", "chunk_strategies": ["surrogate"], "signed_matrix": weights,
        "screened": [[1.5, 0.0], [0.25, 2.0]], "fit_r2": [0.9, None], "memory_weights": [0.0, 0.0],
        "response_scores": [0.0, 0.0]})
    store = Store(tmp_path / "memscore.duckdb")
    run_id = store.record_run_start(model="tiny", backend="embedded", strategy="surrogate", config={},
                                    config_hash="cfg")
    store.upsert_conversation(conversation(), score.content_hash, "convs.jsonl")
    store.write_result(run_id, score, "cfg")
    out = memscore("show", "conv-1", "--db", str(store.path))
    assert table_rows(out) == [["pets/dog", "~1.50", "~0.00", "—"], ["pets/cat", "~0.25", "~2.00", "—"],
                               ["fit R²", "0.90", "", ""]]
    assert json.loads(memscore("show", "conv-1", "--db", str(store.path), "--json"))["fit_r2"] == [0.9, None]

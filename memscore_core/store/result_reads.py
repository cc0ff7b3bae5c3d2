"""Results read back as matrices: one by its head row, or many by their keys in a few batched queries.

A point read fetches the small head row first (``results``, ``conversations``), then the result's cells and
responses by its key and ``scored_at``, the conversation's entries by its ids and ``ingested_at``: those values grow
with write order (migration 0010), so the scans of the big tables skip all but the row groups (DuckDB) or files
(DuckLake) written with them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import Any, TypeVar

import duckdb

from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.store import queries as q
from memscore_core.store.records import (
    ResultKey,
    StoredResult,
    rebuild_conversation,
    results_from_rows,
    score_from_rows,
)

Connection = duckdb.DuckDBPyConnection
T = TypeVar("T")
RESULTS_PER_QUERY = 2000
"""Keys per batched read of results (bounds one query's rows, not the connections)."""


def rebuild(con: Connection, head: Sequence[Any]) -> StoredResult:
    """The result whose ``results`` row (:data:`queries.RESULT_HEAD`) is ``head``, with its cells and entries."""
    key, scored_at, conversation_id = list(head[:3]), head[5], head[10]
    cells = con.execute(q.RESULT_CELLS, [*key, conversation_id, scored_at]).fetchall()
    responses = con.execute(q.RESULT_RESPONSES, [*key, scored_at]).fetchall()
    conversation, entries = _conversation_rows(con, conversation_id, head[0])
    return StoredResult.from_rows(conversation_id, head, cells, responses, conversation, entries)


def read_conversation(con: Connection, conversation_id: str, content_hash: str) -> Conversation | None:
    """The stored conversation, rebuilt as it was scored (entries' ``meta`` is not stored)."""
    head, entries = _conversation_rows(con, conversation_id, content_hash)
    return None if head is None else rebuild_conversation(conversation_id, head, entries)


def _conversation_rows(con: Connection, conversation_id: str, content_hash: str
                       ) -> tuple[Sequence[Any] | None, list[Any]]:
    """A conversation's head (:data:`queries.CONVERSATION`) and its entries, or (None, [])."""
    head = con.execute(q.CONVERSATION, [conversation_id, content_hash]).fetchone()
    if head is None:
        return None, []
    return head, con.execute(q.ENTRIES_OF, [conversation_id, content_hash, head[-1]]).fetchall()


def read_results(con: Connection, keys: Sequence[ResultKey]) -> dict[ResultKey, StoredResult]:
    """The stored results of ``keys``, :data:`RESULTS_PER_QUERY` keys per round of queries."""
    return _in_rounds(keys, partial(_read_some, con))


def read_scores(con: Connection, keys: Sequence[ResultKey]) -> dict[ResultKey, ConversationScore]:
    """The stored results of ``keys`` as the scoring engine returned them, without reading their conversations
    (what ``score --json`` prints for the conversations it skipped), :data:`RESULTS_PER_QUERY` keys at a time."""
    return _in_rounds(keys, partial(_read_scores, con))


def _in_rounds(keys: Sequence[ResultKey], read: Callable[[Sequence[ResultKey]], dict[ResultKey, T]]
               ) -> dict[ResultKey, T]:
    """``read`` of each key once, :data:`RESULTS_PER_QUERY` keys per call."""
    found: dict[ResultKey, T] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), RESULTS_PER_QUERY):
        found.update(read(unique[start:start + RESULTS_PER_QUERY]))
    return found


def _read_scores(con: Connection, keys: Sequence[ResultKey]) -> dict[ResultKey, ConversationScore]:
    """Cells and responses are read by each key's number in ``keys`` (not its three strings: 10^6 cells would be
    3 × 10^6 Python strings)."""
    wanted = [q.listed([key[i] for key in keys]) for i in range(3)]
    numbered = [*wanted, q.listed(range(len(keys)))]
    cells_of = _by_number(con.execute(q.CELLS_BY_NUMBERED_KEYS, numbered).fetchall())
    responses_of = _by_number(con.execute(q.RESPONSES_BY_NUMBERED_KEYS, numbered).fetchall())
    number = {key: n for n, key in enumerate(keys)}
    found: dict[ResultKey, ConversationScore] = {}
    without_columns: list[ResultKey] = []
    for head in con.execute(q.RESULTS_BY_KEYS, wanted).fetchall():
        key: ResultKey = (head[0], head[1], head[2])
        if number[key] in responses_of:
            found[key] = score_from_rows(head[10], head, cells_of.get(number[key], []), responses_of[number[key]])
        else:
            without_columns.append(key)
    if without_columns:
        found.update({key: result.to_score() for key, result in _read_some(con, without_columns).items()})
    return found


def _by_number(rows: Sequence[Sequence[Any]]) -> dict[int, list[Sequence[Any]]]:
    """Rows sorted by their leading key number, grouped by it (the number left off)."""
    return {n: [row[1:] for row in group] for n, group in groupby(rows, key=itemgetter(0))}


def _read_some(con: Connection, keys: Sequence[ResultKey]) -> dict[ResultKey, StoredResult]:
    wanted = [q.listed([key[i] for key in keys]) for i in range(3)]
    heads = con.execute(q.RESULTS_BY_KEYS, wanted).fetchall()
    pairs = [q.listed([head[10] for head in heads]), q.listed([head[0] for head in heads])]
    return results_from_rows(heads, con.execute(q.CELLS_BY_KEYS, wanted).fetchall(),
                             con.execute(q.RESPONSES_BY_KEYS, wanted).fetchall(),
                             con.execute(q.CONVERSATIONS_BY_PAIRS, pairs).fetchall(),
                             con.execute(q.ENTRIES_BY_PAIRS, pairs).fetchall())

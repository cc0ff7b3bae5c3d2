"""Why hierarchical's top memory differs from exact's: each judged response it disagrees on, classified.

Scores many-memory corpora (``memscore bench many-memories``' generator, seed and shape) with ``exact`` and
``hierarchical`` on an embedded model, through a request cache (hierarchical's leaves are exact's requests),
records each chunk's screen, and for every response judged for agreement (exact's top above the floor) on
which hierarchical's pick differs, says which of these it is:

- ``near tie``: exact scores hierarchical's pick within the floor of its top;
- ``pruned``: exact's top memory was never measured alone; the smallest group holding it that scored the
  response moved it at most the floor (``under floor``), or less than the best leaf found allowed
  (``below best``); ``masked`` when that group moved it less than exact's top memory alone does;
- ``outranked``: exact's top was measured (its cell is exact's) but an unrefined group's estimate is larger.

Each record names the answer, the memories it uses and the groups holding exact's top memory that scored it
(size, value, whether inferred). ``descent_tokens`` says where the screen's tokens below the drop-all went: each
request's prompt tokens split evenly among the responses it was sent for (whose most-moving live group it
refined), summed by kind of response (judged or not, whether the answer uses a memory).

Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/probe_hierarchical_misses.py --kinds contacts,mixed \\
        --conversations 2 --chunks 4 --strategies exact --variant before:LEAVES=0 --variant after:

(docs/strategies.md, "Why hierarchical's top memory differs from exact's" and "On SmolLM2-135M-Instruct: the
misses and where the tokens go", has the runs and what they found.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from memscore_core.backends.cache import CachedBackend
from memscore_core.bench.many_memories import _backend
from memscore_core.bench.strategies import _judged_columns, best_cells, score_corpus, top_memory
from memscore_core.config import ScoringConfig
from memscore_core.formats.loading import load_conversations
from memscore_core.model.result import ConversationScore
from memscore_core.strategies import hierarchical
from memscore_core.synth.evaluation import evaluate
from memscore_core.synth.many import ManyShape, corpus_chunk_tokens, generate_many_corpus

SCREENS: list[Any] = []
SPENT: list[tuple[Any, int, list[int]]] = []
"""(screen, prompt tokens, columns it was sent for) of every request a screen sent below the drop-all."""


def record_screens() -> None:
    """Keep every chunk's screen (its measured groups) in :data:`SCREENS`, and what each descent request cost and
    for which responses (those whose most-moving live group it refined) in :data:`SPENT`."""
    init, measure = hierarchical._Screen.__init__, hierarchical._Screen._measure

    def recorded(screen: Any, *args: Any, **kwargs: Any) -> None:
        init(screen, *args, **kwargs)
        SCREENS.append(screen)

    async def sent(screen: Any, group: tuple[int, ...]) -> Any:
        effect = await measure(screen, group)
        request = screen._request(group)
        label = request.label() if len(group) == 1 else f"group-{screen.context.scope.number}-{group[0]}-{group[-1]}"
        tokens = screen.context.ask(request, label).result().prompt_tokens
        parent = group if group in screen.refined else next(g for g, parts in screen._parts.items() if group in parts)
        chosen = screen._chosen.get(parent)
        SPENT.append((screen, tokens, [] if chosen is None else [int(c) for c in np.flatnonzero(chosen)]))
        return effect

    hierarchical._Screen.__init__ = recorded  # type: ignore[method-assign]
    hierarchical._Screen._measure = sent  # type: ignore[method-assign]


def classify(exact: ConversationScore, other: ConversationScore, floor: float) -> list[dict[str, Any]]:
    """One record per judged response of ``exact`` whose top memory ``other`` picks differently."""
    records = []
    mine = best_cells(other)
    for column, _, truth in _judged_columns(exact, floor):
        top = max(truth, key=lambda m: truth[m])
        pick = top_memory(mine, other, column)
        if pick == top:
            continue
        ordered = sorted(truth.values(), reverse=True)
        record: dict[str, Any] = {"conversation": exact.conversation_id, "column": column, "exact_top": top,
                                  "exact_top_value": round(ordered[0], 3),
                                  "exact_second": round(ordered[1], 3) if len(ordered) > 1 else None,
                                  "pick": pick, "exact_of_pick": round(truth.get(pick, 0.0), 3) if pick is not None
                                  else None, "pick_value": round(mine[pick][column] or 0.0, 3) if pick is not None
                                  else None, "floor": round(floor, 3),
                                  "drop_all": exact.drop_all[column]}
        record["near_tie"] = pick is not None and truth.get(pick, 0.0) >= ordered[0] - floor
        if other.matrix[top][column] is not None:
            record["kind"] = "outranked"
        else:
            record.update(_pruned(exact.conversation_id, top, column, truth[top], floor))
        records.append(record)
    return records


def _pruned(conversation_id: str, row: int, column: int, alone: float, floor: float) -> dict[str, Any]:
    """Where the descent stopped above ``row`` for ``column``: its smallest measured group and why."""
    for screen in SCREENS:
        scope = screen.context.scope
        if screen.context.conversation.id != conversation_id or row not in scope.rows:
            continue
        if not scope.lo <= column < scope.hi:
            continue
        local = column - scope.lo
        holding = sorted((g for g in screen.measured if row in g and not np.isnan(screen._value(g)[local])), key=len)
        group = holding[0]
        value = float(screen._value(group)[local])
        best = float(screen._best_leaves()[local])
        second = hierarchical.SECOND * best if best >= hierarchical.STRONG * floor else best
        why = "under floor" if value <= floor else ("below best" if value <= second else "live (not refined)")
        return {"kind": "pruned", "group_size": len(group), "group_value": round(value, 3),
                "best_leaf": round(best, 3), "why": why, "masked": value < alone - floor,
                "inferred": group in screen.inferred,
                "path": [(len(g), round(float(screen._value(g)[local]), 3), g in screen.inferred) for g in holding]}
    return {"kind": "pruned", "why": "no screen"}


def spend(exact: dict[str, ConversationScore], floors: dict[str, float], source: dict[str, Any]) -> dict[str, int]:
    """Prompt tokens of the descent requests recorded in :data:`SPENT`, each split evenly among the responses it
    was sent for, summed by kind of response: judged (exact's top above the floor) or not, and whether the answer
    uses a memory."""
    totals: Counter[str] = Counter()
    for screen, tokens, columns in SPENT:
        conversation_id = screen.context.conversation.id
        judged = {column for column, _, _ in _judged_columns(exact[conversation_id], floors[conversation_id])}
        entries = source[conversation_id].entries
        for local in columns or [None]:
            if local is None:
                totals["for no response"] += tokens
                continue
            column = screen.context.scope.lo + local
            entry = entries[exact[conversation_id].response_entry_indices[column]]
            uses = "uses a memory" if entry.meta.get("uses_memories") else "uses none"
            totals[f"{'judged' if column in judged else 'not judged'}, {uses}"] += tokens / len(columns)
    return {kind: round(value) for kind, value in sorted(totals.items())}


def _floor(scores: dict[str, list[ConversationScore]], conversation_id: str) -> float:
    """The conversation's floor as the bench judges it: the first strategy's that measured one."""
    floors = [s.noise_floor for label in scores for s in scores[label] if s.conversation_id == conversation_id]
    return next((floor for floor in floors if floor is not None), 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=Path("data/models/memscore-tiny-3"))
    parser.add_argument("--ablation", default="replace")
    parser.add_argument("--memories", type=int, default=64)
    parser.add_argument("--conversations", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--layout", default="interleaved")
    parser.add_argument("--kinds", default="contacts,mixed")
    parser.add_argument("--cache", type=Path, default=Path("runs/probe-cache"))
    parser.add_argument("--strategies", default="exact,hierarchical")
    parser.add_argument("--variant", action="append", default=[],
                        help="LABEL:NAME=VALUE[+NAME=VALUE]: hierarchical again with these constants")
    parser.add_argument("--corpus", type=Path, help="score this JSONL instead of generating corpora")
    parser.add_argument("--chunk-tokens", type=int, help="with --corpus: the chunk budget")
    args = parser.parse_args()
    record_screens()
    report = {}
    names = args.strategies.split(",") + args.variant
    screens: dict[str, list[Any]] = {}
    spent: dict[str, list[Any]] = {}
    for kinds in [str(args.corpus)] if args.corpus else args.kinds.split(","):
        SCREENS.clear()
        if args.corpus:
            corpus = [item.conversation for item in load_conversations([args.corpus]).conversations]
            chunk_tokens = args.chunk_tokens or corpus_chunk_tokens(corpus)
        else:
            shape = ManyShape(memories=args.memories, used=4, chunks=args.chunks, layout=args.layout,
                              memory_kinds=kinds)
            corpus = list(generate_many_corpus(args.conversations, args.seed, shape))
            chunk_tokens = corpus_chunk_tokens(corpus)

        async def run(corpus: list[Any] = corpus, chunk_tokens: int | None = chunk_tokens,
                      kinds: str = kinds) -> dict[str, list[ConversationScore]]:
            backend = CachedBackend(_backend(args.model_dir, None), args.cache / f"{args.ablation}")
            try:
                out = {}
                for strategy in names:
                    label, _, setting = strategy.partition(":")
                    settings = dict(item.split("=") for item in setting.split("+") if item)
                    kept = {name: getattr(hierarchical, name) for name in settings}
                    for name, value in settings.items():
                        setattr(hierarchical, name, type(kept[name])(value))
                    config = ScoringConfig.model_validate({"strategy": "exact" if label == "exact" else
                                                           "hierarchical", "chunk_tokens": chunk_tokens,
                                                           "ablation": args.ablation})
                    SCREENS.clear()
                    SPENT.clear()
                    out[label], failed, _ = await score_corpus(corpus, backend, config, 2)
                    screens[label] = list(SCREENS)
                    spent[label] = list(SPENT)
                    for name, value in kept.items():
                        setattr(hierarchical, name, value)
                    assert not failed, f"{strategy} failed on {failed} conversations ({kinds})"
                return out
            finally:
                await backend.aclose()

        scores = asyncio.run(run())
        exact = {s.conversation_id: s for s in scores["exact"]}
        source = {conversation.id: conversation for conversation in corpus}
        truth = evaluate([(source[s.conversation_id], s) for s in scores["exact"]])
        shape_report: dict[str, Any] = {"exact": {"precision_at_1": truth["precision_at_1"],
                                                  "recall_two_memory": truth["recall_two_memory"],
                                                  "requests": sum(s.requests for s in scores["exact"]),
                                                  "prompt_tokens": sum(s.prompt_tokens for s in scores["exact"])}}
        for strategy in [name.partition(":")[0] for name in names[1:]]:
            SCREENS[:] = screens[strategy]
            SPENT[:] = spent[strategy]
            records, judged = [], 0
            floors = {s.conversation_id: _floor(scores, s.conversation_id) for s in scores["exact"]}
            for score in scores[strategy]:
                floor = floors[score.conversation_id]
                judged += len(_judged_columns(exact[score.conversation_id], floor))
                for record in classify(exact[score.conversation_id], score, floor):
                    entry = source[score.conversation_id].entries[
                        exact[score.conversation_id].response_entry_indices[record["column"]]]
                    records.append(record | {"answer": entry.content, "uses": entry.meta.get("uses_memories", [])})
            tokens = sum(s.prompt_tokens for s in scores[strategy])
            exact_tokens = sum(s.prompt_tokens for s in scores["exact"])
            kinds_count = Counter("near tie" if r["near_tie"] else f"{r['kind']}: {r.get('why', '')}"
                                  for r in records)
            ranked = evaluate([(source[s.conversation_id], s.model_copy(update={"matrix": best_cells(s)}))
                               for s in scores[strategy]])
            shape_report[strategy] = {"precision_at_1": ranked["precision_at_1"],
                                      "recall_two_memory": ranked["recall_two_memory"], "judged": judged,
                                      "disagree": len(records),
                                      "agreement": round(1 - len(records) / judged, 3) if judged else None,
                                      "requests": sum(s.requests for s in scores[strategy]), "prompt_tokens": tokens,
                                      "tokens_vs_exact": round(tokens / exact_tokens, 4),
                                      "classes": dict(kinds_count),
                                      "descent_tokens": spend(exact, floors, source), "records": records}
        report[kinds if args.corpus else f"{args.layout}, {kinds}"] = shape_report
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()

"""Grade ContextCite's attributions with memscore's own evaluation, beside memscore exact (memscore's .venv).

Each ContextCite result (attribute.py) becomes a ``ConversationScore`` whose cells are ContextCite's weights
(a cell for every memory before an answer, none after), so ``memscore_core.synth.evaluation.evaluate`` grades
it with the same planted truth and the same rules as `memscore eval`: precision@1 over one-memory answers,
two-memory recall over two-memory answers. Prints the markdown table of docs/peer-contextcite.md and writes
the rows as JSON (ContextCite's rows with its score of every memory before every answer). Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/peer_contextcite/report.py runs/peer/synth-8.jsonl \\
        --exact runs/peer/memscore-exact.json --contextcite runs/peer/cc-32.json runs/peer/cc-64.json \\
        --out docs/peer-contextcite.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore, content_hash
from memscore_core.synth.evaluation import evaluate


def contextcite_score(conversation: Conversation, result: dict[str, Any], name: str) -> ConversationScore:
    """ContextCite's weights for ``conversation`` laid out as memscore's score matrix."""
    keys = [memory.key for memory in conversation.memories]
    entries = [memory.entry for memory in conversation.memories]
    columns = conversation.response_indices
    matrix: list[list[float | None]] = [[None] * len(columns) for _ in keys]
    for answer in result["answers"]:
        column = columns.index(answer["entry"])
        for key, value in zip(answer["sources"], answer["scores"], strict=True):
            matrix[keys.index(key)][column] = value
    return ConversationScore(
        conversation_id=conversation.id, content_hash=content_hash(conversation), strategy=name, model="",
        memory_keys=keys, memory_entry_indices=entries, response_entry_indices=list(columns),
        response_tokens=[0] * len(columns), matrix=matrix, signed_matrix=matrix, memory_weights=[0.0] * len(keys),
        response_scores=[0.0] * len(columns), drop_all=[None] * len(columns), requests=0, prompt_tokens=0)


def contextcite_row(conversations: dict[str, Conversation], path: Path) -> dict[str, Any]:
    """One table row: memscore's evaluation of a ContextCite run, with the run's cost."""
    run = json.loads(path.read_text())
    name = f"contextcite-{run['masks']}"
    pairs = [(conversations[result["id"]], contextcite_score(conversations[result["id"]], result, name))
             for result in run["conversations"]]
    quality = evaluate(pairs) | {"n_double": two_memory_answers(pairs)}
    zero_top = sum(1 for result in run["conversations"] for answer in result["answers"]
                   if max(answer["scores"]) <= 0.0)
    per = "per answer" if run["unit"] == "answer" else "per conversation"
    return {"method": f"ContextCite, {run['masks']} masks {per}", **_quality(quality), "forward_passes":
            run["forward_passes"], "prompt_tokens": run["prompt_tokens"], "wall_s": run["wall_s"],
            "answers_attributed": sum(len(result["answers"]) for result in run["conversations"]),
            "answers_with_no_positive_weight": zero_top, "source": str(path),
            "scores": run["conversations"]}


def two_memory_answers(pairs: list[tuple[Conversation, ConversationScore]]) -> int:
    """How many two-memory answers recall is taken over (kind ``two`` with both memories before it)."""
    return sum(1 for conversation, _ in pairs for index, entry in enumerate(conversation.entries)
               if entry.meta.get("kind") == "two"
               and sum(1 for i in conversation.memory_indices if i < index) >= 2)


def exact_row(path: Path, n_double: int) -> dict[str, Any]:
    """One table row from `memscore eval --json` (strategy exact)."""
    report = json.loads(path.read_text()) | {"n_double": n_double}
    return {"method": "memscore exact (leave-one-out)", **_quality(report), "forward_passes": report["requests"],
            "prompt_tokens": report["prompt_tokens"], "wall_s": report.get("wall_s"), "source": str(path)}


def _quality(report: dict[str, Any]) -> dict[str, Any]:
    return {"precision_at_1": report["precision_at_1"], "n_single": report["n_single"],
            "recall_two_memory": report["recall_two_memory"], "n_double": report.get("n_double"),
            "median_used": report["median_used_divergence"], "median_unused": report["median_unused_divergence"]}


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of docs/peer-contextcite.md."""
    lines = ["| method | precision@1 (answers) | two-memory recall (answers) | forward passes (× exact) "
             "| prompt tokens (× exact) | wall s |", "|---|---:|---:|---:|---:|---:|"]
    passes, tokens = rows[0]["forward_passes"], rows[0]["prompt_tokens"]
    for row in rows:
        wall = f"{row['wall_s']:,.0f}" if row["wall_s"] is not None else "—"
        lines.append(f"| {row['method']} | {_stat(row['precision_at_1'], row['n_single'])} | "
                     f"{_stat(row['recall_two_memory'], row['n_double'])} | "
                     f"{row['forward_passes']:,} ({row['forward_passes'] / passes:.1f}×) | "
                     f"{row['prompt_tokens']:,} ({row['prompt_tokens'] / tokens:.1f}×) | {wall} |")
    return "\n".join(lines)


def _stat(value: float | None, count: int | None) -> str:
    if value is None:
        return "—"
    if count is None:
        return f"{value:.2f}"
    return f"{round(value * count)}/{count} ({value:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("conversations", type=Path)
    parser.add_argument("--exact", type=Path, required=True, help="`memscore eval --json` output")
    parser.add_argument("--contextcite", type=Path, nargs="+", required=True, help="attribute.py outputs")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    loaded = load_conversations([args.conversations])
    conversations = {item.conversation.id: item.conversation for item in loaded.conversations}
    peers = [contextcite_row(conversations, path) for path in args.contextcite]
    rows = [exact_row(args.exact, peers[0]["n_double"])] + peers
    args.out.write_text(json.dumps({"conversations": str(args.conversations), "rows": rows}, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()

"""Does another read of the same log-probs rank memories better than exact's? (issue 24)

Every result holds two reads of one leave-one-out: ``matrix`` (the seed's ``Σ max(0, base − without)`` over a
response's tokens) and ``signed_matrix`` (``Σ (base − without)``, free of the clipping's positive noise). This
judges both against the planted ground truth of a synthetic corpus (``memscore synth``), from the JSON lines
``memscore score --json`` printed for it, and lists each answer exact ranks wrongly with the divergences of the
memories it uses and of the drop-all (how much all memories together move it). Run from the repository root:

    .venv/bin/memscore synth --n 12 --seed 2412 runs/quality/synth-12.jsonl
    .venv/bin/memscore score runs/quality/synth-12.jsonl --model-dir data/models/smollm2-135m-instruct \\
        --db runs/quality/synth-12.duckdb --json > runs/quality/synth-12-scores.jsonl
    PYTHONPATH=. .venv/bin/python scripts/compare_reads.py runs/quality/synth-12.jsonl \\
        runs/quality/synth-12-scores.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from memscore_core import load_conversations
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.synth.evaluation import answers, evaluate

READS: dict[str, Callable[[ConversationScore], list[list[float | None]]]] = {
    "clipped (exact, the seed's)": lambda score: score.matrix,
    "signed": lambda score: score.signed_matrix,
}


def compare(pairs: Sequence[tuple[Conversation, ConversationScore]]) -> dict[str, Any]:
    """Precision@1 and two-memory recall per read, and exact's misses with what moved each answer."""
    reads = {name: evaluate([(conversation, score.model_copy(update={"matrix": read(score)}))
                             for conversation, score in pairs]) for name, read in READS.items()}
    misses = []
    for conversation, score in pairs:
        for answer in answers(conversation, score):
            if answer.found() is False:
                ranked = sorted(answer.cells, key=answer.cells.__getitem__, reverse=True)
                misses.append({"conversation": conversation.id, "kind": answer.kind,
                               "used": {key: round(answer.cells[key], 3) for key in sorted(answer.used)},
                               "top": {key: round(answer.cells[key], 3) for key in ranked[:2]},
                               "drop_all": answer.drop_all})
    return {"reads": reads, "exact_misses": misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("scores", type=Path, help="memscore score --json output for the corpus")
    args = parser.parse_args()
    conversations = {loaded.conversation.id: loaded.conversation
                     for loaded in load_conversations([str(args.corpus)]).conversations}
    scores = [ConversationScore.model_validate_json(line) for line in args.scores.read_text().splitlines()
              if line.startswith("{")]
    print(json.dumps(compare([(conversations[score.conversation_id], score) for score in scores]), indent=1))


if __name__ == "__main__":
    main()

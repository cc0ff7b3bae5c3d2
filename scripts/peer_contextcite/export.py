"""Export synthetic conversations and their planted truth for ContextCite (run with memscore's .venv).

Writes one JSON document that scripts/peer_contextcite/attribute.py reads in ContextCite's own environment
(the two never import each other). Per conversation: its memory entries in score-matrix row order, and per
assistant answer with at least one memory before it, ContextCite's inputs for that answer: the memories
before it (its sources, one per memory entry, the entry's text as memscore sends it), the user's question
(the non-memory user text since the previous answer) and the answer text; and its dialogue (the user and
assistant entries that are not memories) for ContextCite's per-conversation use. Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/peer_contextcite/export.py runs/peer/synth-8.jsonl runs/peer/input.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation


def conversation_record(conversation: Conversation) -> dict[str, Any]:
    """ContextCite's inputs for every answer of ``conversation`` that has a memory before it."""
    memories = [{"key": entry.memory_key, "entry": index, "text": entry.content or ""}
                for index, entry in enumerate(conversation.entries) if entry.memory_key is not None]
    answers = []
    question: list[str] = []
    for index, entry in enumerate(conversation.entries):
        if entry.role == "user" and entry.memory_key is None and entry.content:
            question.append(entry.content)
        if entry.role != "assistant":
            continue
        before = [memory for memory in memories if memory["entry"] < index]
        if before and entry.content:
            answers.append({"entry": index, "query": "\n".join(question), "response": entry.content,
                            "sources": [memory["key"] for memory in before]})
        question = []
    dialogue = [{"role": entry.role, "content": entry.content or "", "entry": index}
                for index, entry in enumerate(conversation.entries)
                if entry.memory_key is None and entry.role in ("user", "assistant")]
    return {"id": conversation.id, "memories": memories, "answers": answers, "dialogue": dialogue}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("conversations", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    loaded = load_conversations([args.conversations])
    if loaded.errors:
        raise SystemExit("\n".join(f"error: {error}" for error in loaded.errors))
    records = [conversation_record(item.conversation) for item in loaded.conversations]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"source": str(args.conversations), "conversations": records}, indent=1))
    print(f"wrote {len(records)} conversations, {sum(len(r['answers']) for r in records)} answers to {args.out}")


if __name__ == "__main__":
    main()

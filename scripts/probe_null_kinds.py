"""Which null suits the noise floor under ``--ablation replace``: the filler entry removed, or replaced?

The floor (``memscore_core.strategies.noise_floor``) is measured by removing a content-free filler entry
inserted among a chunk's memories. Under ``--ablation replace`` the ablations replace instead, so the
matching null would replace the filler by ``a a …``. For each synthetic many-memory conversation this
scores the filler as the chunk's only memory with ``exact`` under both ablations (its row's cells are the
null samples), and, with ``--unused``, the conversation itself under replacement: per response, the
largest cell of a memory its answer does not use (what a floor must stay near, or the screen chases
look-alike memories). Embedded model, no server. Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/probe_null_kinds.py data/models/memscore-tiny-3 \\
        --memories 256 --conversations 3 --unused
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from memscore_core.backends.factory import EMBEDDED_BASE_URL
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.bench.strategies import score_corpus
from memscore_core.config import Ablation, ScoringConfig
from memscore_core.embedded.app import ServerOptions
from memscore_core.embedded.serve import embedded_transport
from memscore_core.model.conversation import Conversation, Entry
from memscore_core.model.result import ConversationScore
from memscore_core.strategies.noise_floor import DEFAULT_QUANTILE, FILLER
from memscore_core.synth.many import ManyShape, corpus_chunk_tokens, generate_many_corpus

NULL_KEY = "null/filler"


def filler_only(conversation: Conversation) -> Conversation:
    """``conversation`` with the filler inserted before its middle memory as its only memory."""
    memories = [i for i, entry in enumerate(conversation.entries) if entry.is_memory]
    entries = [entry.model_copy(update={"memory_key": None}) for entry in conversation.entries]
    entries.insert(memories[len(memories) // 2], Entry(role="user", content=FILLER, memory_key=NULL_KEY))
    return conversation.model_copy(update={"id": f"{conversation.id}-null", "entries": entries})


def null_samples(score: ConversationScore) -> list[float]:
    """The filler row's scored cells."""
    return [cell for cell in score.matrix[score.memory_keys.index(NULL_KEY)] if cell is not None]


def largest_unused(conversation: Conversation, score: ConversationScore) -> list[float]:
    """Per response, the largest cell of a memory its answer does not use (ground truth in its meta)."""
    largest = []
    for column, entry in enumerate(score.response_entry_indices):
        if entry is None:
            continue
        used = set(conversation.entries[entry].meta.get("uses_memories", []))
        largest.append(max((row[column] or 0.0 for key, row in zip(score.memory_keys, score.matrix, strict=True)
                            if key not in used), default=0.0))
    return largest


def summary(values: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {"samples": len(array), "median": float(np.median(array)),
            f"q{DEFAULT_QUANTILE:g}": float(np.quantile(array, DEFAULT_QUANTILE)),
            "share_above_0.1": float((array > 0.1).mean())}


async def probe(model_dir: Path, shape: ManyShape, conversations: int, seed: int, unused: bool) -> dict[str, object]:
    corpus = list(generate_many_corpus(conversations, seed, shape))
    chunk_tokens = corpus_chunk_tokens(corpus)
    assert chunk_tokens is not None
    backend = VllmBackend(base_url=EMBEDDED_BASE_URL, retry=RetryPolicy(attempts=1), timeout=3600.0,
                          transport=embedded_transport(model_dir, 1, ServerOptions(max_model_len=8192)))

    async def exact(items: list[Conversation], ablation: Ablation) -> list[ConversationScore]:
        config = ScoringConfig(chunk_tokens=2 * chunk_tokens, ablation=ablation)
        scores, failed, _ = await score_corpus(items, backend, config, 4)
        assert not failed, f"{failed} conversations failed"
        return scores

    try:
        nulls = [filler_only(conversation) for conversation in corpus]
        report: dict[str, object] = {
            f"null {ablation}": {score.conversation_id: summary(null_samples(score))
                                 for score in await exact(nulls, ablation)}
            for ablation in ("remove", "replace")}
        if unused:
            scores = await exact(corpus, "replace")
            by_id = {conversation.id: conversation for conversation in corpus}
            report["largest unused cell, replace"] = summary(
                [value for score in scores for value in largest_unused(by_id[score.conversation_id], score)])
        return report
    finally:
        await backend.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--memories", type=int, default=64)
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--unused", action="store_true", help="also score the conversations under replacement")
    args = parser.parse_args()
    shape = ManyShape(memories=args.memories, used=min(4, args.memories), chunks=1)
    print(json.dumps(asyncio.run(probe(args.model_dir, shape, args.conversations, args.seed, args.unused)), indent=1))


if __name__ == "__main__":
    main()

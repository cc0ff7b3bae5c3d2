"""Evaluate a model directory on synthetic conversations, many-memory ones included.

Like ``memscore eval`` (exact strategy, embedded model), but with the model directory, the server's
``max_model_len`` and the chunk budget as options: ``chunk_tokens`` defaults to the corpus's
``meta["chunk_tokens"]``, and a conversation the server would make memscore split into more chunks than
its ``meta["chunks"]`` fails instead of being scored on smaller chunks. Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/eval_synth.py runs/many/m64.jsonl \\
        --model-dir data/models/memscore-tiny-2 --max-model-len 8192
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from memscore_core.ablation.chunking import DEFAULT_CHUNK_TOKENS
from memscore_core.backends.factory import EMBEDDED_BASE_URL
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions
from memscore_core.embedded.serve import embedded_transport, load_model
from memscore_core.formats.loading import load_conversations
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.opening import open_scorer
from memscore_core.scoring.outcome import Outcome
from memscore_core.synth.evaluation import evaluate
from memscore_core.synth.many import corpus_chunk_tokens


async def score(paths: list[Path], model_dir: Path, max_model_len: int, chunk_tokens: int | None,
                threads: int) -> tuple[list[Outcome], int]:
    """Every conversation's outcome on the embedded model in ``model_dir``, and the chunk_tokens used."""
    loaded = load_conversations(paths)
    if loaded.errors:
        raise SystemExit("\n".join(f"error: {error}" for error in loaded.errors))
    conversations = [item.conversation for item in loaded.conversations]
    tokens = chunk_tokens or corpus_chunk_tokens(conversations) or DEFAULT_CHUNK_TOKENS
    config = ScoringConfig(strategy="exact", chunk_tokens=tokens)
    transport = embedded_transport(model_dir, threads, ServerOptions(max_model_len=max_model_len))
    backend = VllmBackend(base_url=EMBEDDED_BASE_URL, model=None, transport=transport, timeout=3600.0,
                          retry=RetryPolicy(attempts=1))
    try:
        async with open_scorer(config, backend=backend, concurrency=1) as scorer:
            return await scorer.outcomes(loaded.conversations), tokens
    finally:
        await backend.aclose()


def longest_chunk(model_dir: Path, threads: int, pairs: list[tuple[Conversation, ConversationScore]]) -> int:
    """Tokens of the longest baseline prompt: the context length the server needs."""
    model = load_model(model_dir, threads)
    return max((len(model.encode(model.render(
        conversation.prefix_messages() + [conversation.entries[i].api_message() for i in chunk],
        add_generation_prompt=False))) for conversation, score in pairs for chunk in score.chunks), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--model-dir", type=Path, default=Path("data/models/memscore-tiny"))
    parser.add_argument("--max-model-len", type=int, default=8192)
    parser.add_argument("--chunk-tokens", type=int, default=None, help="default: the corpus's meta.chunk_tokens")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    began = time.time()
    outcomes, tokens = asyncio.run(score(args.paths, args.model_dir, args.max_model_len, args.chunk_tokens,
                                         args.threads))
    failed = [o for o in outcomes if o.score is None]
    for outcome in failed:
        print(f"error: {outcome.loaded.conversation.id}: {outcome.error}")
    pairs = [(o.loaded.conversation, o.score) for o in outcomes if o.score is not None]
    split = [c.id for c, s in pairs if "chunks" in c.meta and len(s.chunks) != c.meta["chunks"]]
    if split:
        raise SystemExit(f"error: scored on other chunks than designed (context too short?): {split}")
    report = {"model_dir": str(args.model_dir), "conversations": len(pairs), "chunk_tokens": tokens,
              "longest_chunk_tokens": longest_chunk(args.model_dir, args.threads, pairs),
              "wall_s": round(time.time() - began, 1), **evaluate(pairs)}
    print(json.dumps(report, indent=2))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

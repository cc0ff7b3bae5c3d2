"""Where hierarchical screening sends its prompt tokens: per group size (the levels of the descent), beside exact.

Scores a corpus with ``exact`` and ``hierarchical`` on an embedded model and prints, for hierarchical, the requests
and prompt tokens of each group size (1 = a leaf, whose request is exact's own), and of everything else (baselines,
drop-alls, the noise floor's requests), and, per leaf, whether an answer uses it. Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/probe_hierarchical_levels.py runs/m64-interleaved.jsonl \\
        --model-dir data/models/memscore-tiny-3 --ablation replace
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from memscore_core.bench.many_memories import _backend
from memscore_core.bench.strategies import score_corpus
from memscore_core.config import ScoringConfig
from memscore_core.formats.loading import load_conversations
from memscore_core.strategies import hierarchical
from memscore_core.synth.many import corpus_chunk_tokens

SENT: list[tuple[str, int, int, bool]] = []
"""(conversation id, group size, prompt tokens, whether a leaf any answer uses) of each group request sent."""


def record_levels(used: dict[str, set[str]]) -> None:
    """Wrap hierarchical's request path so each group request is recorded in :data:`SENT`."""
    measure = hierarchical._Screen._measure

    async def recorded(screen: Any, group: tuple[int, ...]) -> Any:
        effect = await measure(screen, group)
        request = screen._request(group)
        label = request.label() if len(group) == 1 else f"group-{screen.context.scope.number}-{group[0]}-{group[-1]}"
        tokens = screen.context.ask(request, label).result().prompt_tokens
        conversation = screen.context.conversation
        keys = {conversation.memories[row].key for row in group}
        SENT.append((conversation.id, len(group), tokens, bool(keys & used.get(conversation.id, set()))))
        return effect

    hierarchical._Screen._measure = recorded  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--model-dir", type=Path, default=Path("data/models/memscore-tiny-3"))
    parser.add_argument("--ablation", default="remove")
    args = parser.parse_args()
    conversations = [item.conversation for item in load_conversations([args.corpus]).conversations]
    used = {c.id: {key for e in c.entries for key in e.meta.get("uses_memories", [])} for c in conversations}
    chunk_tokens = corpus_chunk_tokens(conversations)
    assert chunk_tokens is not None
    record_levels(used)

    async def run() -> dict[str, Any]:
        backend = _backend(args.model_dir, None)
        try:
            totals = {}
            for strategy in ("exact", "hierarchical"):
                config = ScoringConfig.model_validate({"strategy": strategy, "chunk_tokens": chunk_tokens,
                                                       "ablation": args.ablation})
                scores, failed, _ = await score_corpus(conversations, backend, config, 4)
                totals[strategy] = {"requests": sum(s.requests for s in scores),
                                    "prompt_tokens": sum(s.prompt_tokens for s in scores), "failed": failed}
            return totals
        finally:
            await backend.aclose()

    totals = asyncio.run(run())
    tokens: Counter[int] = Counter()
    requests: Counter[int] = Counter()
    for _, size, sent, _ in SENT:
        tokens[size] += sent
        requests[size] += 1
    leaves = Counter(is_used for _, size, _, is_used in SENT if size == 1)
    exact_tokens = totals["exact"]["prompt_tokens"]
    levels = {str(size): {"requests": requests[size], "prompt_tokens": tokens[size],
                          "vs_exact": round(tokens[size] / exact_tokens, 4)} for size in sorted(tokens, reverse=True)}
    other = totals["hierarchical"]["prompt_tokens"] - sum(tokens.values())
    print(json.dumps({"corpus": str(args.corpus), "ablation": args.ablation, **totals, "levels": levels,
                      "other_tokens": other, "other_vs_exact": round(other / exact_tokens, 4),
                      "leaves_used": leaves[True], "leaves_unused": leaves[False],
                      "hierarchical_vs_exact": round(totals["hierarchical"]["prompt_tokens"] / exact_tokens, 4)},
                     indent=2))


if __name__ == "__main__":
    main()

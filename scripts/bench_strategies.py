"""Measure exact, hierarchical, surrogate and auto side by side on many-memory synthetic conversations.

Generates ``--n`` conversations of ``--chunks`` chunks with ``--memories`` memories each (``--used`` of them
asked about), scores them with every strategy on the embedded model in ``--model-dir`` (or a server at
``--base-url``), and prints each strategy's requests, prompt tokens, wall, precision@1, two-memory recall and
top-1 agreement with exact, with the token ratios to exact and the acceptance targets of issue 14. Run from the
repository root:

    PYTHONPATH=. .venv/bin/python scripts/bench_strategies.py --memories 64 --chunks 4 --n 4 --out runs/s64.json
    PYTHONPATH=. .venv/bin/python scripts/bench_strategies.py --memories 256 --chunks 1 --n 2 --window 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from memscore_core.backends.base import PromptBackend
from memscore_core.backends.factory import EMBEDDED_BASE_URL
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.bench.strategies import StrategyComparison, compare_strategies
from memscore_core.engine import ScoringConfig
from memscore_core.local.app import ServerOptions
from memscore_core.settings import Settings
from memscore_core.strategies.noise_floor import DEFAULT_QUANTILE
from memscore_core.synth.many import ManyShape, corpus_chunk_tokens, generate_many_corpus


def backend(args: argparse.Namespace) -> PromptBackend:
    if args.base_url:
        return VllmBackend(base_url=args.base_url, timeout=3600.0, retry=RetryPolicy(attempts=1))
    from memscore_core.local.serve import embedded_transport

    transport = embedded_transport(args.model_dir, args.threads, ServerOptions(max_model_len=args.max_model_len))
    return VllmBackend(base_url=EMBEDDED_BASE_URL, transport=transport, timeout=3600.0, retry=RetryPolicy(attempts=1))


def configs(args: argparse.Namespace, chunk_tokens: int) -> dict[str, ScoringConfig]:
    windows = [None] if args.window is None else [None, args.window]
    found = {}
    for window in windows:
        for strategy in args.strategies.split(","):
            name = strategy if window is None else f"{strategy} --window {window}"
            found[name] = ScoringConfig(strategy=strategy, chunk_tokens=chunk_tokens, window=window,  # type: ignore[arg-type]
                                        masks=args.masks, floor_quantile=args.floor_quantile)
    return found


def targets(comparison: StrategyComparison, memories: int) -> list[tuple[str, bool]]:
    """Issue 14's acceptance targets for this shape, each met or not."""
    rows = {row.name: row for row in comparison.rows}
    exact, found = rows.get("exact"), []
    hierarchical, surrogate = rows.get("hierarchical"), rows.get("surrogate")
    if exact is None:
        return found
    token_limit = 0.5 if memories <= 64 else 0.2
    if hierarchical is not None:
        found.append((f"hierarchical tokens <= {token_limit} x exact",
                      (hierarchical.tokens_vs_exact or 0.0) <= token_limit))
        found.append(("hierarchical top-1 agreement >= 0.98", (hierarchical.top1_agreement or 0.0) >= 0.98))
        if memories <= 64 and exact.precision_at_1 is not None:
            found.append(("hierarchical precision@1 within 0.01 of exact",
                          abs((hierarchical.precision_at_1 or 0.0) - exact.precision_at_1) <= 0.01))
    if surrogate is not None and memories > 64:
        found.append(("surrogate tokens <= 0.3 x exact", (surrogate.tokens_vs_exact or 0.0) <= 0.3))
        found.append(("surrogate precision@1 >= 0.9", (surrogate.precision_at_1 or 0.0) >= 0.9))
    if "auto" in rows:
        found.append(("auto tokens <= exact", rows["auto"].prompt_tokens <= exact.prompt_tokens))
    return found


def print_table(comparison: StrategyComparison) -> None:
    header = ["strategy", "requests", "prompt tok", "tok/exact", "wall s", "p@1", "recall2", "agree", "n agree",
              "chunks by strategy"]
    print(" | ".join(header))
    for row in comparison.rows:
        cells = [row.name, str(row.requests), str(row.prompt_tokens), _fmt(row.tokens_vs_exact), f"{row.wall_s:.1f}",
                 _fmt(row.precision_at_1), _fmt(row.recall_two_memory), _fmt(row.top1_agreement),
                 str(row.agreement_responses), json.dumps(row.chunk_strategies)]
        print(" | ".join(cells))


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


async def run(args: argparse.Namespace) -> StrategyComparison:
    shape = ManyShape(memories=args.memories, used=args.used, chunks=args.chunks)
    conversations = list(generate_many_corpus(args.n, args.seed, shape))
    chunk_tokens = corpus_chunk_tokens(conversations)
    assert chunk_tokens is not None
    scorer = backend(args)
    try:
        return await compare_strategies(conversations, scorer, configs(args, chunk_tokens),
                                        concurrency=args.concurrency)
    finally:
        await scorer.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=64)
    parser.add_argument("--used", type=int, default=4)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--n", type=int, default=4, help="conversations")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--strategies", default="exact,hierarchical,surrogate,auto")
    parser.add_argument("--window", type=int, default=None, help="also run every strategy with this window")
    parser.add_argument("--masks", type=int, default=64)
    parser.add_argument("--floor-quantile", type=float, default=DEFAULT_QUANTILE)
    parser.add_argument("--model-dir", type=Path, default=Settings().model_dir)
    parser.add_argument("--max-model-len", type=int, default=8192)
    parser.add_argument("--base-url", default=None, help="a server instead of the embedded model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None, help="write the comparison as JSON")
    args = parser.parse_args()
    comparison = asyncio.run(run(args))
    print_table(comparison)
    met = targets(comparison, args.memories)
    for name, ok in met:
        print(f"{'met' if ok else 'MISSED'}: {name}")
    if args.out is not None:
        document = {"args": {key: str(value) for key, value in vars(args).items()},
                    **comparison.model_dump(mode="json"), "targets": [{"target": n, "met": ok} for n, ok in met]}
        args.out.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()

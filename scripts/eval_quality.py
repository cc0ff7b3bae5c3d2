"""Attribution quality per model × strategy × ablation, by running `memscore eval` on each and keeping its JSON.

Each (model, ablation) is one `memscore eval CORPUS --model-dir DIR --strategy S1,S2,… --ablation A --json` run
(request cache off, so no strategy answers from another's requests, unless ``--cache`` for a slow model); the
command is stored beside its reports, so each row of the table says how to reproduce it. Results go to ``--out``
(JSON) after every run, so a stopped job keeps what it measured; ``--markdown`` prints the table of one or more
such files. Run from the repository root, e.g.:

    .venv/bin/memscore synth --n 8 --seed 424243 runs/quality/synth-8.jsonl
    nice -n 10 .venv/bin/python scripts/eval_quality.py runs/quality/synth-8.jsonl --out docs/quality-synth.json \\
        --model-dir data/models/memscore-tiny --model-dir data/models/smollm2-135m-instruct --masks 16
    .venv/bin/python scripts/eval_quality.py --markdown docs/quality-synth.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STRATEGIES = "exact,hierarchical,surrogate,auto"
ABLATIONS = "remove,replace"


def eval_command(corpus: Path, model_dir: Path, strategies: str, ablation: str, masks: int,
                 chunk_tokens: int | None) -> list[str]:
    """The `memscore eval` arguments one run is (after ``memscore``)."""
    command = ["eval", str(corpus), "--model-dir", str(model_dir), "--strategy", strategies, "--ablation", ablation,
               "--masks", str(masks), "--json"]
    return command + (["--chunk-tokens", str(chunk_tokens)] if chunk_tokens else [])


def run_one(command: list[str], cache: str) -> list[dict[str, Any]]:
    """Run ``memscore`` with ``command`` in this interpreter (request cache ``cache``, empty for none) and parse its
    JSON reports."""
    environment = {**os.environ, "MEMSCORE_REQUEST_CACHE": cache}
    done = subprocess.run([sys.executable, "-m", "memscore_core.cli", *command], env=environment,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 and not done.stdout.strip():
        raise SystemExit(f"error: memscore {shlex.join(command)} failed: {done.stderr.strip()[-2000:]}")
    reports = json.loads(done.stdout)
    return reports if isinstance(reports, list) else [reports]


def measure(args: argparse.Namespace) -> None:
    """Every (model, ablation) run on the corpus, saved to ``args.out`` after each."""
    results: list[dict[str, Any]] = json.loads(args.out.read_text()) if args.out.exists() else []
    done = {(block["model"], block["ablation"], block["corpus"]) for block in results}
    for model_dir in args.model_dir:
        for ablation in args.ablations.split(","):
            if (model_dir.name, ablation, args.corpus.name) in done:
                continue
            command = eval_command(args.corpus, model_dir, args.strategies, ablation, args.masks, args.chunk_tokens)
            cache = str(args.cache / f"{model_dir.name}-{ablation}") if args.cache else ""
            began = time.time()
            reports = run_one(command, cache)
            results.append({"corpus": args.corpus.name, "model": model_dir.name, "ablation": ablation,
                            "command": f"MEMSCORE_REQUEST_CACHE={cache} .venv/bin/memscore {shlex.join(command)}",
                            "run_s": round(time.time() - began, 1), "load_average": os.getloadavg()[0],
                            "reports": reports})
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
            print(f"{model_dir.name} {ablation}: {time.time() - began:.0f} s", flush=True)


def _fraction(value: float | None, count: int | None = None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if count is None else f"{value:.2f} ({count})"


def markdown(paths: list[Path]) -> str:
    """One table row per model × strategy × ablation, then each run's command."""
    lines = ["| corpus | model | ablation | strategy | precision@1 (answers) | two-memory recall | top-1 = exact "
             "(judged) | used / unused median | requests | prompt tokens | ÷ exact | wall s | run |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    commands = []
    for path in paths:
        for block in sorted(json.loads(path.read_text()), key=lambda block: (block["model"], block["ablation"])):
            commands.append(block["command"])
            run = len(commands)
            for report in block["reports"]:
                used, unused = report["median_used_divergence"], report["median_unused_divergence"]
                medians = "—" if used is None or unused is None else f"{used:.2f} / {unused:.3f}"
                lines.append(
                    f"| {block['corpus']} | {block['model']} | {block['ablation']} | {report['strategy']} | "
                    f"{_fraction(report['precision_at_1'], report['n_single'])} | "
                    f"{_fraction(report['recall_two_memory'])} | "
                    f"{_fraction(report['top1_agreement_with_exact'], report['agreement_responses'])} | {medians} | "
                    f"{report['requests']} | {report['prompt_tokens']:,} | {_fraction(report['tokens_vs_exact'])} | "
                    f"{report['wall_s']:.1f} | {run} |")
    lines += ["", "Runs (each reproduces its rows; `.venv/bin/memscore` from the repository root):", ""]
    lines += [f"{number}. `{command}`" for number, command in enumerate(commands, 1)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, nargs="?")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--model-dir", type=Path, action="append", default=[])
    parser.add_argument("--strategies", default=STRATEGIES)
    parser.add_argument("--ablations", default=ABLATIONS)
    parser.add_argument("--masks", type=int, default=64)
    parser.add_argument("--chunk-tokens", type=int, default=None, help="default: memscore eval's (the corpus's)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="a request cache under this directory, one per model and ablation: a request two "
                             "strategies send (a leaf of hierarchical, auto's chunks scored exactly) is computed once; "
                             "requests and prompt tokens still count it for each, wall times do not (default: none)")
    parser.add_argument("--markdown", type=Path, nargs="+", help="print the table of these result files")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(args.markdown))
    elif args.corpus is None or args.out is None or not args.model_dir:
        parser.error("give a corpus, --out and at least one --model-dir (or --markdown FILES)")
    else:
        measure(args)


if __name__ == "__main__":
    main()

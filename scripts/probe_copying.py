"""Does a model copy digit values from among look-alike memories? Per-token log-probs, no scoring.

For each memory count M, draws chunks whose facts all have digit values (codes, rooms: the facts
memscore-tiny-2 misses at 64 memories) with two of them asked about, and reports over the answers' digit
tokens (single digits, or digit pairs with ``--group-digits``): the mean log-prob (ln 1/10 = -2.30 is a
uniform guess among single digits) and the share of answers whose every digit token has probability above
one half ("copied"). Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/probe_copying.py data/models/memscore-tiny-2
"""

from __future__ import annotations

import argparse
import json
import math

import torch
from train_tiny_model import DIGIT_KINDS, assistant_mask, render_chatml
from transformers import AutoModelForCausalLM, AutoTokenizer

from memscore_core.synth.many import ManyShape, generate_many

CHUNKS = {2: 30, 8: 15, 64: 6}
"""Chunks drawn per memory count: about 50, 25 and 10 digit answers."""


def answer_digit_logprobs(tokens: list[str], logprobs: list[float], mask: list[float]) -> list[list[float]]:
    """Per assistant turn with digits, the log-probs of its digit tokens (``logprobs[i]`` is token i's;
    ``mask`` is ``assistant_mask``'s, so each turn ends at its ``<|im_end|>``).

    A token holds digits when it is digits after an optional leading space ("Ġ" in byte-level pieces).
    """
    answers: list[list[float]] = []
    digits: list[float] = []
    for token, logprob, in_answer in zip(tokens, logprobs, mask, strict=True):
        if not in_answer:
            continue
        if token.lstrip("\u0120").isdigit():
            digits.append(logprob)
        elif token == "<|im_end|>":
            if digits:
                answers.append(digits)
            digits = []
    return answers


def probe(model_dir: str, seed: int) -> dict[int, dict[str, float]]:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    turn_ids = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>", "assistant"])
    report = {}
    for memories, chunks in CHUNKS.items():
        answers: list[list[float]] = []
        for index in range(chunks):
            chunk = generate_many(seed, index, ManyShape(memories=memories, used=2, kinds=DIGIT_KINDS))
            ids = tokenizer(render_chatml(chunk))["input_ids"]
            with torch.no_grad():
                rows = model(torch.tensor([ids])).logits[0].log_softmax(-1)
            logprobs = [0.0] + [rows[i - 1, ids[i]].item() for i in range(1, len(ids))]
            answers += answer_digit_logprobs(tokenizer.convert_ids_to_tokens(ids), logprobs,
                                             assistant_mask(ids, *turn_ids))
        digits = [lp for answer in answers for lp in answer]
        report[memories] = {"answers": len(answers), "mean_digit_logprob": round(sum(digits) / len(digits), 3),
                            "copied": round(sum(min(a) > math.log(0.5) for a in answers) / len(answers), 3)}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--seed", type=int, default=999)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"model": args.model_dir, "by_memories": probe(args.model_dir, args.seed)}))


if __name__ == "__main__":
    main()

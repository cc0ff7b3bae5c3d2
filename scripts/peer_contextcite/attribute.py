"""Attribute each synthetic answer to its memories with ContextCite's own code (run with .venv-contextcite).

Reads the JSON that export.py wrote and builds ``context_cite.ContextCiter`` objects whose sources are memory
entries (a partitioner that keeps one source per memory instead of splitting the context into sentences) and
whose response is the conversation's text (given to ContextCite instead of generated). ContextCite then does
what it always does: renders ``Context: {kept memories}\\n\\nQuery: {question}`` as one user message through
the model's chat template, runs one forward pass per random mask (keep probability 0.5) and fits its LASSO
surrogate to the response's log-probabilities; its weights are the scores. Two units:

- ``conversation``: one ContextCiter per conversation: every memory, the first question as the query and the
  rest of the dialogue as the response (the chat template's continuation); each answer is attributed as a span.
- ``answer``: one ContextCiter per answer: the memories before it, its question, the answer as the response.

ContextCite draws mask ``i`` from seed ``i`` whatever the count, so the first 32 of 64 masks are the masks a
32-mask run draws: one run with the largest count gives every smaller count by fitting ContextCite's solver on
the first rows of its own ablation data (forward passes and tokens are counted per count the same way). A hook
on the model counts the forward passes and the tokens they carried. Run from the repository root:

    .venv-contextcite/bin/python scripts/peer_contextcite/attribute.py runs/peer/input.json runs/peer/contextcite \\
        --model-dir data/models/smollm2-135m-instruct --masks 32,64 --unit conversation
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from context_cite import ContextCiter
from context_cite.context_partitioner import BaseContextPartitioner
from transformers import AutoModelForCausalLM, AutoTokenizer

SEPARATOR = "\n"


class MemoryPartitioner(BaseContextPartitioner):
    """One source per memory entry, joined by newlines; an ablated context keeps the masked-in memories."""

    def __init__(self, memories: list[str]) -> None:
        super().__init__(SEPARATOR.join(memories))
        self.memories = memories

    @property
    def num_sources(self) -> int:
        return len(self.memories)

    def split_context(self) -> None:
        """The sources are given; nothing to split."""

    def get_source(self, index: int) -> str:
        return self.memories[index]

    def get_context(self, mask: Any = None) -> str:
        keep = np.ones(self.num_sources, dtype=bool) if mask is None else mask
        return SEPARATOR.join(memory for memory, kept in zip(self.memories, keep, strict=True) if kept)


class PassCounter:
    """Records the token count of every forward pass of the model (padding included)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.tokens: list[int] = []
        model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, _module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        self.tokens.append(int(input_ids.numel()) if input_ids is not None else 0)


@dataclass
class Span:
    """One answer to attribute: its entry, the memory keys before it, where it is in the response."""

    entry: int
    sources: list[str]
    start: int | None = None
    end: int | None = None


@dataclass
class Unit:
    """One ContextCiter, the memory key of each of its sources and the answers it attributes."""

    citer: ContextCiter
    keys: list[str]
    spans: list[Span]


def answer_units(model: Any, tokenizer: Any, conversation: dict[str, Any], masks: int) -> list[Unit]:
    """One ContextCiter per answer: the memories before it, its question, the answer as the response."""
    texts = {memory["key"]: memory["text"] for memory in conversation["memories"]}
    units = []
    for answer in conversation["answers"]:
        partitioner = MemoryPartitioner([texts[key] for key in answer["sources"]])
        citer = ContextCiter(model, tokenizer, partitioner.context, answer["query"], partitioner=partitioner,
                             num_ablations=masks)
        _, prompt = citer._get_prompt_ids(return_prompt=True)
        _give_response(citer, prompt, answer["response"])
        units.append(Unit(citer, answer["sources"], [Span(answer["entry"], answer["sources"])]))
    return units


def conversation_unit(model: Any, tokenizer: Any, conversation: dict[str, Any], masks: int) -> list[Unit]:
    """One ContextCiter per conversation: the rest of the dialogue after the first question is the response."""
    partitioner = MemoryPartitioner([memory["text"] for memory in conversation["memories"]])
    first, *rest = conversation["dialogue"]
    citer = ContextCiter(model, tokenizer, partitioner.context, first["content"], partitioner=partitioner,
                         num_ablations=masks)
    _, prompt = citer._get_prompt_ids(return_prompt=True)
    opening = citer.prompt_template.format(context=partitioner.context, query=first["content"])
    turns = [{"role": "user", "content": opening}] + [{"role": t["role"], "content": t["content"]} for t in rest]
    whole = tokenizer.apply_chat_template(turns, tokenize=False)
    if not whole.startswith(prompt):
        raise SystemExit(f"error: {conversation['id']}: the chat template does not extend its own prompt")
    response = whole[len(prompt):]
    _give_response(citer, prompt, response)
    where, cursor = {}, 0
    for turn in rest:
        if turn["role"] == "assistant":
            start = response.index(turn["content"], cursor)
            cursor = start + len(turn["content"])
            where[turn["entry"]] = (start, cursor)
    spans = [Span(answer["entry"], answer["sources"], *where[answer["entry"]]) for answer in conversation["answers"]]
    return [Unit(citer, [memory["key"] for memory in conversation["memories"]], spans)]


def _give_response(citer: ContextCiter, prompt: str, response: str) -> None:
    """Make ``response`` the text ContextCite attributes instead of one it generates."""
    citer._cache["output"] = prompt + response
    if citer.response != response:
        raise SystemExit(f"error: ContextCite reads the response as {citer.response!r}, not {response!r}")


def scores_with(unit: Unit, masks: int, full: int) -> list[dict[str, Any]]:
    """Each answer's scores from ContextCite's solver fitted on the first ``masks`` of ``full`` ablations."""
    cache = unit.citer._cache
    if masks < full:
        cache["reg_masks"], saved_masks = cache["reg_masks"][:masks], cache["reg_masks"]
        cache["reg_logit_probs"], saved_probs = cache["reg_logit_probs"][:masks], cache["reg_logit_probs"]
    answers = []
    for span in unit.spans:
        weights = unit.citer.get_attributions(start_idx=span.start, end_idx=span.end, verbose=False)
        answers.append({"entry": span.entry, "sources": span.sources,
                        "scores": [float(weights[unit.keys.index(key)]) for key in span.sources]})
    if masks < full:
        cache["reg_masks"], cache["reg_logit_probs"] = saved_masks, saved_probs
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path)
    parser.add_argument("out_prefix", type=Path, help="writes OUT_PREFIX-UNIT-MASKS.json per mask count")
    parser.add_argument("--model-dir", type=Path, default=Path("data/models/smollm2-135m-instruct"))
    parser.add_argument("--masks", default="32,64", help="comma-separated mask counts")
    parser.add_argument("--unit", choices=("conversation", "answer"), default="conversation")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    counts = sorted({int(count) for count in args.masks.split(",")})
    full = counts[-1]
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32).eval()
    counter = PassCounter(model)
    build = conversation_unit if args.unit == "conversation" else answer_units
    began = time.time()
    results: dict[int, list[dict[str, Any]]] = {count: [] for count in counts}
    tokens = dict.fromkeys(counts, 0)
    passes = dict.fromkeys(counts, 0)
    for conversation in json.loads(args.input.read_text())["conversations"]:
        units = build(model, tokenizer, conversation, full)
        for unit in units:
            first = len(counter.tokens)
            unit.citer._compute_masks_and_logit_probs()  # ContextCite's forward passes, one per mask
            if len(counter.tokens) - first != full:
                raise SystemExit(f"error: ContextCite ran {len(counter.tokens) - first} forward passes, not {full}")
            for count in counts:
                passes[count] += count
                tokens[count] += sum(counter.tokens[first:first + count])
        for count in counts:
            answers = [answer for unit in units for answer in scores_with(unit, count, full)]
            results[count].append({"id": conversation["id"], "answers": answers})
        print(f"{conversation['id']}: {len(units)} ContextCiters, {len(counter.tokens)} forward passes so far",
              flush=True)
    wall = round(time.time() - began, 1)
    for count in counts:
        report = {"method": "context-cite 0.0.4", "masks": count, "unit": args.unit, "model_dir": str(args.model_dir),
                  "threads": args.threads, "forward_passes": passes[count], "prompt_tokens": tokens[count],
                  "wall_s": wall if count == full else None, "run_masks": full, "run_forward_passes":
                  len(counter.tokens), "conversations": results[count]}
        out = Path(f"{args.out_prefix}-{args.unit}-{count}.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1))
        print(f"wrote {out}: {passes[count]} forward passes, {tokens[count]} tokens")
    print(f"{len(counter.tokens)} forward passes in {wall} s")


if __name__ == "__main__":
    main()

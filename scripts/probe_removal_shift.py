"""How much of a response's leave-one-out divergence is the memory's content, and how much its length?

For one response of a synthetic many-memory conversation (``memscore_core.synth.many``), each memory of
its chunk is ablated two ways against the chunk's baseline: removed (what ``exact`` sends: every later token
moves back by the memory's length) and replaced by content-free text of the same token count (nothing moves).
A model whose removal divergence far exceeds its replacement divergence reacts to where tokens sit, not to
what the memory says: screening cannot reproduce such cells, because removing a group moves tokens by
other amounts. Per-token log-probs on the model, no server. Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/probe_removal_shift.py data/models/memscore-tiny-3 \\
        --memories 64 --conversations 4 --seed 14 --conversation synth-many-14-00002 --response 25
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from memscore_core.ablation.requests import plan_exact
from memscore_core.model.conversation import Conversation, Entry
from memscore_core.synth.many import ManyShape, corpus_chunk_tokens, generate_many_corpus

FILLER_WORDS = ("to", "is", "a")
"""Words that are one token with or without a leading space on most byte-level tokenizers."""


def same_length_filler(tokenizer: PreTrainedTokenizerBase, tokens: int) -> str:
    """Content-free text ("to to to ...") of exactly ``tokens`` tokens."""
    for word in FILLER_WORDS:
        text = " ".join([word] * tokens)
        if len(tokenizer(text)["input_ids"]) == tokens:
            return text
    raise ValueError(f"none of {FILLER_WORDS} is one token a word on this tokenizer")


def response_logprobs(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, conversation: Conversation,
                      entries: list[Entry]) -> np.ndarray:
    """Log-probs of the last entry's tokens (a response) after the conversation's prefix and ``entries``."""
    messages = conversation.prefix_messages() + [entry.api_message() for entry in entries]
    ids = tokenizer(tokenizer.apply_chat_template(messages, tokenize=False))["input_ids"]
    answer = len(tokenizer(entries[-1].content)["input_ids"])
    start = len(ids) - 2 - answer
    with torch.no_grad():
        rows = model(torch.tensor([ids])).logits[0].log_softmax(-1)
    return np.array([rows[start + k - 1, ids[start + k]].item() for k in range(answer)])


def probe(model_dir: str, shape: ManyShape, conversations: int, seed: int, conversation_id: str,
          column: int) -> dict[str, object]:
    corpus = list(generate_many_corpus(conversations, seed, shape))
    conversation = next(c for c in corpus if c.id == conversation_id)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    response = [i for i, entry in enumerate(conversation.entries) if entry.is_response][column]
    plan = plan_exact(conversation, corpus_chunk_tokens(corpus))
    baseline = next(r for r in plan.requests if r.kind == "baseline" and response in r.entries)
    kept = [i for i in baseline.entries if i <= response]
    entries = conversation.entries

    def drop(sent: list[Entry]) -> float:
        return float(np.maximum(base - response_logprobs(model, tokenizer, conversation, sent), 0.0).sum())

    base = response_logprobs(model, tokenizer, conversation, [entries[i] for i in kept])
    rows = []
    for memory in (i for i in kept if entries[i].is_memory):
        filler = same_length_filler(tokenizer, len(tokenizer(entries[memory].content)["input_ids"]))
        replaced = entries[memory].model_copy(update={"content": filler})
        rows.append({"entry": memory, "removed": drop([entries[i] for i in kept if i != memory]),
                     "replaced": drop([replaced if i == memory else entries[i] for i in kept])})
    removed, replaced = np.array([r["removed"] for r in rows]), np.array([r["replaced"] for r in rows])
    return {"response": entries[response].content, "memories": len(rows),
            "removed": {"median": float(np.median(removed)), "max": float(removed.max())},
            "replaced": {"median": float(np.median(replaced)), "max": float(replaced.max())},
            "per_memory": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--memories", type=int, default=64)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--conversations", type=int, default=4)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--conversation", required=True)
    parser.add_argument("--response", type=int, required=True, help="the response's column in the score matrix")
    args = parser.parse_args()
    shape = ManyShape(memories=args.memories, used=4, chunks=args.chunks)
    print(json.dumps(probe(args.model_dir, shape, args.conversations, args.seed, args.conversation, args.response),
                     indent=1))


if __name__ == "__main__":
    main()

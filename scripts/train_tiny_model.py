"""Train memscore-tiny: a small Qwen2 ChatML model that copies facts from its context.

Reproducible: the corpus, the tokenizer and the weights are all seeded, and training runs a fixed
number of steps (never a time budget). Run from the repository root:

    .venv/bin/python scripts/train_tiny_model.py --out data/models/memscore-tiny

Checkpoints go to ``--work`` every ``--checkpoint-every`` steps; ``--resume`` continues from the
newest one. The final model, tokenizer and chat template are written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from memscore_core.conversation import Conversation
from memscore_core.synth.generator import SynthShape, generate_conversation

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
ROLE_NAMES = ["system", "user", "assistant", "tool"]
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
              r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['reasoning_content'] is defined and message['reasoning_content'] %}"
    "{{- '<think>' + message['reasoning_content'] + '</think>' }}"
    "{%- endif %}"
    "{{- message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
CURRICULUM = SynthShape(min_facts=2, max_facts=3, min_turns=2, max_turns=4)
FULL = SynthShape(min_facts=2, max_facts=8, min_turns=3, max_turns=10)


def render_chatml(conversation: Conversation) -> str:
    """The conversation as the chat template renders it (no generation prompt)."""
    messages = conversation.prefix_messages() + [e.api_message() for e in conversation.entries]
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def build_tokenizer(vocab_size: int, seed: int) -> Tokenizer:
    """A byte-level BPE laid out like Qwen's, trained on generator output."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    texts = (render_chatml(generate_conversation(seed, i, FULL)) for i in range(4000))
    tokenizer.train_from_iterator(texts, trainer=trainer)
    for role in ROLE_NAMES:
        ids = tokenizer.encode(f"<|im_start|>{role}\n").ids
        if len(ids) != 3:
            raise RuntimeError(f"role {role!r} is not a single token: {ids}")
    return tokenizer


def assistant_mask(ids: list[int], im_start: int, im_end: int, assistant: int) -> list[float]:
    """1 for the tokens of assistant turns (content, think block and the closing <|im_end|>)."""
    mask = [0.0] * len(ids)
    i = 0
    while i < len(ids):
        if ids[i] == im_start and i + 1 < len(ids) and ids[i + 1] == assistant:
            i += 3
            while i < len(ids):
                mask[i] = 1.0
                if ids[i] == im_end:
                    break
                i += 1
        i += 1
    return mask


def batches(tokenizer: Tokenizer, seed: int, batch_size: int, step: int,
            curriculum_steps: int, max_len: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded batches of padded ids and loss masks, resumable at ``step``."""
    im_start, im_end, assistant = (tokenizer.token_to_id(t) for t in ("<|im_start|>", "<|im_end|>", "assistant"))
    while True:
        shape = CURRICULUM if step < curriculum_steps else FULL
        encoded = []
        for row in range(batch_size):
            ids = tokenizer.encode(render_chatml(generate_conversation(seed, step * batch_size + row, shape))).ids
            encoded.append(ids[:max_len])
        width = max(len(ids) for ids in encoded)
        input_ids = torch.zeros((batch_size, width), dtype=torch.long)
        mask = torch.zeros((batch_size, width))
        for row, ids in enumerate(encoded):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = torch.tensor(assistant_mask(ids, im_start, im_end, assistant))
        yield input_ids, mask
        step += 1


def model_config(vocab_size: int, args: argparse.Namespace) -> Qwen2Config:
    return Qwen2Config(
        vocab_size=vocab_size, hidden_size=args.hidden, intermediate_size=args.hidden * 3,
        num_hidden_layers=args.layers, num_attention_heads=args.hidden // 32, num_key_value_heads=2,
        max_position_embeddings=4096, rope_theta=10000.0, tie_word_embeddings=False,
        bos_token_id=None, eos_token_id=2, pad_token_id=0, torch_dtype="float32",
    )


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def save_model_dir(out: Path, model: Qwen2ForCausalLM, tokenizer: Tokenizer) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<think>", "</think>"], model_max_length=4096,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tokenizer_path = work / "tokenizer.json"
    if tokenizer_path.exists():
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
    else:
        tokenizer = build_tokenizer(args.vocab, args.seed)
        tokenizer.save(str(tokenizer_path))
    model = Qwen2ForCausalLM(model_config(tokenizer.get_vocab_size(), args))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    start = 0
    checkpoints = sorted(work.glob("step-*.pt"))
    if args.resume and checkpoints:
        state = torch.load(checkpoints[-1], weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start = state["step"]
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"params": params, "start": start, "steps": args.steps}), flush=True)
    log = (work / "train-log.jsonl").open("a")
    began = time.time()
    running = None
    model.train()
    data = batches(tokenizer, args.seed, args.batch, start, args.curriculum_steps, args.max_len)
    for step in range(start, min(args.steps, args.stop_at or args.steps)):
        input_ids, mask = next(data)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        logits = model(input_ids=input_ids).logits[:, :-1]
        target, weight = input_ids[:, 1:], mask[:, 1:]
        losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
        loss = (losses * weight).sum() / weight.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (step + 1) % 50 == 0:
            record = {"step": step + 1, "loss": round(running, 4), "elapsed_s": round(time.time() - began, 1)}
            log.write(json.dumps(record) + "\n")
            log.flush()
            print(json.dumps(record), flush=True)
        if (step + 1) % args.checkpoint_every == 0 or step + 1 in (args.steps, args.stop_at):
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "rng": torch.get_rng_state(), "step": step + 1}, work / f"step-{step + 1:06d}.pt")
            save_model_dir(work / "latest", model, tokenizer)
    save_model_dir(Path(args.out), model, tokenizer)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/models/memscore-tiny")
    parser.add_argument("--work", default="runs/train-tiny")
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--curriculum-steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--max-len", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--stop-at", type=int, default=0,
                        help="stop after this step (the learning-rate schedule still spans --steps)")
    return parser.parse_args()


if __name__ == "__main__":
    train(parse_args())

"""Train memscore-tiny: a small Qwen2 ChatML model that copies facts from its context.

Reproducible: the corpus, the tokenizer and the weights are all seeded, and training runs a fixed
number of steps (never a time budget). Run from the repository root:

    .venv/bin/python scripts/train_tiny_model.py --out data/models/memscore-tiny

``--init-from DIR --curriculum many`` continues a trained model (same tokenizer, so token ids stay) on
many-memory chunks (``memscore_core.synth.many``: 16 → 256 memories about contacts, distractors of the
same form) mixed with the original shape, e.g. with RoPE positions raised by ``--max-positions``:

    .venv/bin/python scripts/train_tiny_model.py --init-from data/models/memscore-tiny --curriculum many \
        --seed 2 --steps 3000 --max-positions 8192 --max-len 8192 --work runs/train-many --out DIR

Checkpoints go to ``--work`` every ``--checkpoint-every`` steps; ``--resume`` continues from the
newest one. The final model, tokenizer and chat template are written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from memscore_core.model.conversation import Conversation
from memscore_core.synth.facts import CONTACT_KINDS
from memscore_core.synth.generator import SynthShape, generate_conversation
from memscore_core.synth.many import ManyShape, generate_many

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
ROLE_NAMES = ["system", "user", "assistant", "tool"]
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
              r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
DIGIT_GROUP_SPLIT = QWEN_SPLIT.replace(r"|\p{N}|", r"| ?\p{N}{1,2}|")
"""Qwen's split, but a number's leading space and up to two digits are one piece (" 8131" → " 81", "31")."""
CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- endif %}"
    "{{- '\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- set ns = namespace(calls=false) %}"
    "{%- for message in messages %}"
    "{%- if tools and loop.first and message['role'] == 'system' %}"
    "{%- elif message['role'] == 'tool' and ns.calls %}"
    "{%- if messages[loop.index0 - 1]['role'] != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message['content'] + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['reasoning_content'] is defined and message['reasoning_content'] %}"
    "{{- '<think>' + message['reasoning_content'] + '</think>' }}"
    "{%- endif %}"
    "{{- message['content'] }}"
    "{%- if message['tool_calls'] is defined and message['tool_calls'] %}"
    "{%- for call in message['tool_calls'] %}"
    "{%- set function = call['function'] if call['function'] is defined else call %}"
    "{%- if message['content'] or not loop.first %}{{- '\\n' }}{%- endif %}"
    "{{- '<tool_call>\\n{\"name\": \"' + function['name'] + '\", \"arguments\": ' }}"
    "{%- if function['arguments'] is string %}{{- function['arguments'] }}"
    "{%- else %}{{- function['arguments'] | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{%- endif %}"
    "{{- '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- if message['role'] == 'assistant' %}"
    "{%- set ns.calls = message['tool_calls'] is defined and message['tool_calls'] is not none"
    " and message['tool_calls'] | length > 0 %}"
    "{%- elif message['role'] != 'tool' %}{%- set ns.calls = false %}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
CURRICULUM = SynthShape(min_facts=2, max_facts=3, min_turns=2, max_turns=4)
FULL = SynthShape(min_facts=2, max_facts=8, min_turns=3, max_turns=10)
MANY_STAGES = ((16, 32, 64), (32, 64, 128), (64, 128, 256))
"""Memories per chunk drawn from in each third of a ``many`` run."""
MANY_BATCH = {2: 32, 4: 24, 8: 16, 16: 8, 32: 6, 64: 4, 128: 2, 256: 1}
"""Chunks per batch by memories per chunk: about 6,000–9,000 tokens a step."""
DIGIT_KINDS = tuple(kind for kind in CONTACT_KINDS if kind.key.split("/")[2] in ("codes", "calendar"))

Draw = Callable[[int], list[Conversation]]
"""The conversations of one training step."""


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


def tiny_draw(seed: int, batch_size: int, curriculum_steps: int) -> Draw:
    """memscore-tiny's data: short conversations for ``curriculum_steps`` steps, then the full shape."""
    def draw(step: int) -> list[Conversation]:
        shape = CURRICULUM if step < curriculum_steps else FULL
        return [generate_conversation(seed, step * batch_size + row, shape) for row in range(batch_size)]
    return draw


def many_draw(seed: int, batch_size: int, steps: int, full_share: float, drill_share: float = 0.0,
              stages: tuple[tuple[int, ...], ...] = MANY_STAGES, used_share: float = 0.125) -> Draw:
    """Many-memory chunks drawn from each of ``stages`` in turn, and the full shape in ``full_share`` of steps.

    A chunk of M memories has M × ``used_share`` of them used (2 to 32), so long chunks still carry answers. In
    ``drill_share`` of the many-memory steps every fact has a digit value (codes, rooms): digits recur
    across memories, so only the owner and slot say which memory to copy from.
    """
    def draw(step: int) -> list[Conversation]:
        rng = random.Random(f"memscore-many-mix:{seed}:{step}")
        if rng.random() < full_share:
            return [generate_conversation(seed, step * batch_size + row, FULL) for row in range(batch_size)]
        memories = rng.choice(stages[min(len(stages) - 1, step * len(stages) // steps)])
        drill = drill_share > 0 and rng.random() < drill_share
        shape = ManyShape(memories=memories, used=min(32, max(2, round(memories * used_share))),
                          kinds=DIGIT_KINDS if drill else CONTACT_KINDS)
        return [generate_many(seed, step * 8 + row, shape) for row in range(MANY_BATCH[memories])]
    return draw


def batches(tokenizer: Tokenizer, draw: Draw, step: int, max_len: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded batches of padded ids and loss masks, resumable at ``step``."""
    im_start, im_end, assistant = (tokenizer.token_to_id(t) for t in ("<|im_start|>", "<|im_end|>", "assistant"))
    while True:
        encoded = [tokenizer.encode(render_chatml(conversation)).ids[:max_len] for conversation in draw(step)]
        width = max(len(ids) for ids in encoded)
        input_ids = torch.zeros((len(encoded), width), dtype=torch.long)
        mask = torch.zeros((len(encoded), width))
        for row, ids in enumerate(encoded):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = torch.tensor(assistant_mask(ids, im_start, im_end, assistant))
        yield input_ids, mask
        step += 1


def model_config(vocab_size: int, args: argparse.Namespace) -> Qwen2Config:
    return Qwen2Config(
        vocab_size=vocab_size, hidden_size=args.hidden, intermediate_size=args.hidden * 3,
        num_hidden_layers=args.layers, num_attention_heads=args.hidden // 32, num_key_value_heads=2,
        max_position_embeddings=args.max_positions, rope_theta=10000.0, tie_word_embeddings=False,
        bos_token_id=None, eos_token_id=2, pad_token_id=0, torch_dtype="float32",
    )


def grow(model: Qwen2ForCausalLM, layers: int) -> Qwen2ForCausalLM:
    """``model`` with ``layers`` more decoder layers on top, each starting as the identity.

    A new layer's attention output and MLP down projections start at zero, so the grown model computes what
    ``model`` computed and training starts from its quality rather than from noise.
    """
    config = model.config
    config.num_hidden_layers += layers
    config.layer_types = ["full_attention"] * config.num_hidden_layers
    grown = Qwen2ForCausalLM(config)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(".layers." not in name for name in missing):
        raise SystemExit(f"--grow-layers: weights that do not fit the grown model: {missing + unexpected}")
    for index in range(config.num_hidden_layers - layers, config.num_hidden_layers):
        layer = grown.model.layers[index]
        torch.nn.init.zeros_(layer.self_attn.o_proj.weight)
        torch.nn.init.zeros_(layer.mlp.down_proj.weight)
    return grown


def as_llama(model: PreTrainedModel) -> LlamaForCausalLM:
    """The same network as a Llama model with attention biases (the output projection's at zero).

    transformers 5 tokenizes every qwen2 model directory with Qwen's split regex, whatever its
    ``tokenizer.json`` says; a llama directory keeps the file's, which ``--group-digits`` changes.
    """
    if isinstance(model, LlamaForCausalLM):
        return model
    source = model.config
    config = LlamaConfig(
        vocab_size=source.vocab_size, hidden_size=source.hidden_size, intermediate_size=source.intermediate_size,
        num_hidden_layers=source.num_hidden_layers, num_attention_heads=source.num_attention_heads,
        num_key_value_heads=source.num_key_value_heads, hidden_act=source.hidden_act,
        max_position_embeddings=source.max_position_embeddings, rms_norm_eps=source.rms_norm_eps,
        rope_parameters=source.rope_parameters, attention_bias=True, tie_word_embeddings=False,
        bos_token_id=None, eos_token_id=source.eos_token_id, pad_token_id=source.pad_token_id,
    )
    llama = LlamaForCausalLM(config)
    missing, unexpected = llama.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(not name.endswith("o_proj.bias") for name in missing):
        raise SystemExit(f"--group-digits: weights that do not fit a llama model: {missing + unexpected}")
    for layer in llama.model.layers:
        torch.nn.init.zeros_(layer.self_attn.o_proj.bias)
    return llama


def group_digits(tokenizer: Tokenizer, model: PreTrainedModel) -> tuple[Tokenizer, PreTrainedModel]:
    """The tokenizer splitting numbers by ``DIGIT_GROUP_SPLIT``, and the model with rows for the new pieces.

    Existing token ids keep their meaning. Each new piece (" 8", " 81", "81") starts as a copy of a word piece
    of the same kind (a spaced one for a spaced piece, the latest merged first), input and output rows, plus
    a little noise: the model already copies word pieces from its context, so it can copy the new pieces
    from the first step, and training then tells them apart.
    """
    spec = json.loads(tokenizer.to_str())
    split = spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]
    if split["Regex"] != QWEN_SPLIT:
        raise SystemExit("--group-digits: the tokenizer does not split with Qwen's regex")
    split["Regex"] = DIGIT_GROUP_SPLIT
    vocab, merges = spec["model"]["vocab"], spec["model"]["merges"]
    space, digits = "\u0120", [str(d) for d in range(10)]
    spaced = [(space, d) for d in digits] + [(space + a, b) for a in digits for b in digits]
    inner = [(a, b) for a in digits for b in digits]
    templates = {
        True: sorted((i for t, i in vocab.items() if re.fullmatch(space + "[A-Za-z]+", t)), reverse=True),
        False: sorted((i for t, i in vocab.items() if re.fullmatch("[a-z]{2,}", t)), reverse=True),
    }
    old_size = model.config.vocab_size
    model.resize_token_embeddings(old_size + len(spaced) + len(inner), mean_resizing=False)
    inputs, outputs = model.get_input_embeddings().weight.data, model.get_output_embeddings().weight.data
    for offset, (left, right) in enumerate(spaced + inner):
        index, is_spaced = old_size + offset, left.startswith(space)
        vocab[left + right] = index
        merges.append([left, right])
        template = templates[is_spaced][offset if is_spaced else offset - len(spaced)]
        for rows in (inputs, outputs):
            rows[index] = rows[template] + 0.1 * rows[template].std() * torch.randn(rows.shape[1])
    return Tokenizer.from_str(json.dumps(spec)), model


def parse_stages(text: str) -> tuple[tuple[int, ...], ...]:
    """``"16,32,64;32,64,128"`` → the memories per chunk drawn from in each part of a ``many`` run."""
    stages = tuple(tuple(int(m) for m in part.split(",")) for part in text.split(";"))
    unknown = {m for stage in stages for m in stage} - MANY_BATCH.keys()
    if unknown:
        raise SystemExit(f"--many-stages: memories per chunk must be among {sorted(MANY_BATCH)}, got {sorted(unknown)}")
    return stages


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
        additional_special_tokens=["<|im_start|>", "<think>", "</think>"],
        model_max_length=model.config.max_position_embeddings,
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
    if args.init_from and (args.group_digits or not tokenizer_path.exists()):
        shutil.copyfile(Path(args.init_from) / "tokenizer.json", tokenizer_path)
    if tokenizer_path.exists():
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
    else:
        tokenizer = build_tokenizer(args.vocab, args.seed)
        tokenizer.save(str(tokenizer_path))
    if args.init_from:
        model = AutoModelForCausalLM.from_pretrained(args.init_from, dtype=torch.float32)
        model.config.max_position_embeddings = args.max_positions
        if args.grow_layers:
            model = grow(model, args.grow_layers)
        if args.group_digits:
            tokenizer, model = group_digits(tokenizer, as_llama(model))
            tokenizer.save(str(tokenizer_path))
    else:
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
    draw = (many_draw(args.seed, args.batch, args.steps, args.full_share, args.drill_share,
                      parse_stages(args.many_stages), args.used_share)
            if args.curriculum == "many"
            else tiny_draw(args.seed, args.batch, args.curriculum_steps))
    data = batches(tokenizer, draw, start, args.max_len)
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
    parser.add_argument("--max-positions", type=int, default=4096, help="the config's max_position_embeddings")
    parser.add_argument("--init-from", default=None, help="continue from this model directory (and its tokenizer)")
    parser.add_argument("--curriculum", choices=("tiny", "many"), default="tiny",
                        help="tiny: memscore-tiny's run; many: many-memory chunks mixed with the full shape")
    parser.add_argument("--full-share", type=float, default=0.2, help="many: share of steps on the full shape")
    parser.add_argument("--drill-share", type=float, default=0.0,
                        help="many: share of many-memory steps whose facts all have digit values")
    parser.add_argument("--used-share", type=float, default=0.125,
                        help="many: share of a chunk's memories that answers use (2 to 32 of them)")
    parser.add_argument("--many-stages", default="16,32,64;32,64,128;64,128,256",
                        help="many: memories per chunk drawn from in each part of the run (';' between parts)")
    parser.add_argument("--group-digits", action="store_true",
                        help="with --init-from: a llama model whose tokenizer splits numbers into spaced digit pairs")
    parser.add_argument("--grow-layers", type=int, default=0,
                        help="with --init-from: add this many layers on top, each starting as the identity")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--stop-at", type=int, default=0,
                        help="stop after this step (the learning-rate schedule still spans --steps)")
    return parser.parse_args()


if __name__ == "__main__":
    train(parse_args())

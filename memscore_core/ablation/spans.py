"""Find the assistant-response tokens in a scored ChatML prompt.

:func:`message_spans` splits the stream at ``<|im_start|>``, matches the rendered
messages to what was sent, and returns each assistant message's content positions without the role
newline and the leading ``<think>…</think>`` block. Empty responses stay, as empty spans.

Assistant messages always render one block each, in order; one that only calls tools is a response too,
its content the rendered calls (``<tool_call>…</tool_call>``). Between two of them, a chat template may
render a ``tool`` message as a ``user`` block, and a run of tool messages as one block (Qwen2.5 and
Qwen3 do both); before the first, a system block when no system message was sent (the template's default
system prompt: SmolLM2, Qwen2.5). Anything else that does not match what was sent is a :class:`SpanError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from memscore_core.errors import SpanError
from memscore_core.model.prompt import ScoredPrompt

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


class MessageSpan(NamedTuple):
    """One rendered message: its role and, for assistant messages, the scored content positions."""

    role: str
    start: int
    response: npt.NDArray[np.int64]


_NO_POSITIONS: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
_NO_POSITIONS.flags.writeable = False


def message_spans(scored: ScoredPrompt, roles: Sequence[str]) -> list[MessageSpan]:
    """One span per message sent (``roles``, in order); assistant spans hold the response positions.

    A trailing generation prompt (``<|im_start|>assistant\\n`` with no ``<|im_end|>``) is ignored.
    Raises :class:`SpanError` when the stream does not match the messages.
    """
    tokens = scored.tokens
    starts = _positions(tokens, IM_START)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    ends = starts[1:] + [len(tokens)]
    blocks = [_span(tokens, start, end) for start, end in zip(starts, ends, strict=True)]
    if blocks and blocks[0].role == "system" and roles[:1] != ["system"]:
        blocks = blocks[1:]  # the template's default system prompt (SmolLM2, Qwen2.5): nothing sent renders as it
    if blocks and blocks[-1].role == "assistant" and IM_END not in tokens[starts[-1]:] \
            and roles.count("assistant") < [b.role for b in blocks].count("assistant"):
        blocks.pop()
    spans = _align(blocks, roles)
    if spans is None:
        raise SpanError(f"scored prompt has messages {[b.role for b in blocks]}, but {list(roles)} were sent")
    return spans


def _positions(tokens: list[str | None], value: str) -> list[int]:
    """Every position of ``value`` in ``tokens`` (the scan runs in C, one step per message)."""
    found: list[int] = []
    try:
        while True:
            found.append(tokens.index(value, found[-1] + 1 if found else 0))
    except ValueError:
        return found


def _align(blocks: Sequence[MessageSpan], roles: Sequence[str]) -> list[MessageSpan] | None:
    """Match rendered blocks to sent roles group by group (the messages between assistant turns)."""
    sent, rendered = _groups(list(roles)), _groups([b.role for b in blocks])
    if len(sent) != len(rendered) or not all(map(_renders_as, sent, rendered)):
        return None
    spans: list[MessageSpan] = []
    block = 0
    for number, (group, shown) in enumerate(zip(sent, rendered, strict=True)):
        start = blocks[block].start if block < len(blocks) else 0
        spans.extend(MessageSpan(role, start, _NO_POSITIONS) for role in group)
        block += len(shown)
        if number < len(sent) - 1:
            spans.append(blocks[block])
            block += 1
    return spans


def _groups(roles: list[str]) -> list[list[str]]:
    """The non-assistant roles before, between and after the assistant messages."""
    groups: list[list[str]] = [[]]
    for role in roles:
        if role == "assistant":
            groups.append([])
        else:
            groups[-1].append(role)
    return groups


def _renders_as(sent: list[str], shown: list[str]) -> bool:
    """Whether ``sent`` may render as ``shown``: equal, but a tool message may show as ``user`` and a
    run of tool messages as one block."""
    reachable = {0}
    for i, role in enumerate(sent):
        reachable = _next_positions(sent, shown, i, role, reachable)
    return len(shown) in reachable


def _next_positions(sent: list[str], shown: list[str], i: int, role: str, positions: set[int]) -> set[int]:
    """Block positions reachable after matching ``sent[i]`` (a tool run may end at any of its messages)."""
    following: set[int] = set()
    for j in positions:
        if j < len(shown) and (shown[j] == role or (role == "tool" and shown[j] == "user")):
            following.add(j + 1)
        if role == "tool" and i > 0 and sent[i - 1] == "tool" and j > 0 and shown[j - 1] in ("tool", "user"):
            following.add(j)
    return following


def _span(tokens: Sequence[str | None], start: int, end: int) -> MessageSpan:
    """The message opening at ``start``: its role is the text up to the first newline (any tokenizer)."""
    header = ""
    content = start + 1
    while content < end and "\n" not in header:
        header += tokens[content] or ""
        content += 1
    role = header.split("\n", 1)[0]
    if role != "assistant":
        return MessageSpan(role, start, _NO_POSITIONS)
    stop = next((i for i in range(end - 1, content - 1, -1) if tokens[i] == IM_END), end)
    if content < stop and tokens[content] == THINK_OPEN:
        close = next((i for i in range(content, stop) if tokens[i] == THINK_CLOSE), None)
        if close is None:
            raise SpanError(f"unterminated <think> block in the assistant message at token {start}")
        content = close + 1
    elif (after := _after_think_text(tokens, content, stop, start)) is not None:
        content = after
    else:
        return MessageSpan("assistant", start, np.arange(content, stop, dtype=np.int64))
    while content < stop and not (tokens[content] or "x").strip():
        content += 1
    return MessageSpan("assistant", start, np.arange(content, stop, dtype=np.int64))


def _after_think_text(tokens: Sequence[str | None], content: int, stop: int, start: int) -> int | None:
    """Where the answer starts when the think block is plain text (a tokenizer without ``<think>`` tokens, e.g.
    SmolLM2): after the token that completes ``</think>`` (one that runs on into the answer goes with the block);
    ``None`` when the message does not open with ``<think>``."""
    text = ""
    for position in range(content, stop):
        text += tokens[position] or ""
        if not (text.startswith(THINK_OPEN) or THINK_OPEN.startswith(text)):
            return None
        if THINK_CLOSE in text[len(THINK_OPEN):]:
            return position + 1
    if text.startswith(THINK_OPEN):
        raise SpanError(f"unterminated <think> block in the assistant message at token {start}")
    return None

"""Find the assistant-response tokens in a scored ChatML prompt, two ways.

:func:`seed_walk` is the seed's walker, quirks included (used only by the seed strategy).
:func:`message_spans` is the default: it splits the stream at ``<|im_start|>``, checks every message's
role against what was sent, and returns each assistant message's content positions without the role
newline and the leading ``<think>…</think>`` block. Empty responses stay, as empty spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from memscore_core.errors import SpanError
from memscore_core.parsing import ScoredPrompt

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def seed_walk(tokens: Sequence[str | None], logprobs: Sequence[float]) -> list[list[float]]:
    """The seed's response extraction over (decoded_token, logprob) pairs; ``None`` tokens are skipped.

    >>> seed_walk([None, "<|im_start|>", "assistant", "\\n", "Hi", "<|im_end|>"], [0, 0, 0, 0, -1.5, 0])
    [[-1.5]]
    """
    responses: list[list[float]] = []
    in_assistant = in_think = False
    current: list[float] = []
    for token, logprob in zip(tokens, logprobs, strict=True):
        if token is None:
            continue
        if token == IM_START:
            in_assistant = in_think = False
        elif token == "assistant" and not in_assistant:
            in_assistant, in_think = True, False
            current = []
        elif token == THINK_OPEN and in_assistant:
            in_think = True
        elif token == THINK_CLOSE and in_assistant:
            in_think = False
        elif token == IM_END and in_assistant:
            if current:
                responses.append(current)
                current = []
            in_assistant = False
        elif token == "\n" and in_assistant and not current:
            continue
        elif in_assistant and not in_think:
            current.append(float(logprob))
    return responses


@dataclass(frozen=True)
class MessageSpan:
    """One rendered message: its role and, for assistant messages, the scored content positions."""

    role: str
    start: int
    response: npt.NDArray[np.int64]


def message_spans(scored: ScoredPrompt, roles: Sequence[str]) -> list[MessageSpan]:
    """Split ``scored`` into the messages that were sent (``roles``, in order) and find responses.

    A trailing generation prompt (``<|im_start|>assistant\\n`` with no ``<|im_end|>``) is ignored.
    Raises :class:`SpanError` when the stream does not match the messages.
    """
    tokens = scored.tokens
    starts = [i for i, token in enumerate(tokens) if token == IM_START]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    ends = starts[1:] + [len(tokens)]
    spans = [_span(tokens, start, end) for start, end in zip(starts, ends, strict=True)]
    if len(spans) == len(roles) + 1 and spans[-1].role == "assistant" and IM_END not in tokens[starts[-1]:]:
        spans.pop()
    found = [span.role for span in spans]
    if found != list(roles):
        raise SpanError(f"scored prompt has messages {found}, but {list(roles)} were sent")
    return spans


def _span(tokens: Sequence[str | None], start: int, end: int) -> MessageSpan:
    """The message opening at ``start``: its role is the text up to the first newline (any tokenizer)."""
    header = ""
    content = start + 1
    while content < end and "\n" not in header:
        header += tokens[content] or ""
        content += 1
    role = header.split("\n", 1)[0]
    if role != "assistant":
        return MessageSpan(role=role, start=start, response=np.empty(0, dtype=np.int64))
    stop = next((i for i in range(end - 1, content - 1, -1) if tokens[i] == IM_END), end)
    if content < stop and tokens[content] == THINK_OPEN:
        close = next((i for i in range(content, stop) if tokens[i] == THINK_CLOSE), None)
        if close is None:
            raise SpanError(f"unterminated <think> block in the assistant message at token {start}")
        content = close + 1
    return MessageSpan(role="assistant", start=start, response=np.arange(content, stop, dtype=np.int64))

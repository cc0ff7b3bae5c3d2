"""What one scoring request sends and gets back: chat messages and, when the conversation declares them, its tools
(both go to the server, whose own chat template renders them; both are part of a request's identity), how the
prompt is scored, and the scored prompt's tokens and log-probabilities."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Message = dict[str, Any]


@dataclass(frozen=True)
class ChatPrompt:
    """Messages in OpenAI chat format, plus the ``tools`` list the template renders (``None``: no tools)."""

    messages: list[Message]
    tools: list[dict[str, Any]] | None = None

    def size(self) -> int:
        """Characters of text content: how long the prompt is, for scheduling longest first."""
        return sum(len(message.get("content") or "") for message in self.messages
                   if isinstance(message.get("content"), str))


@dataclass(frozen=True)
class RequestOptions:
    """How a prompt is scored. ``seed()`` is the seed's exact request; the default is memscore's.

    ``scored_roles``: the messages whose log-probs are read (memscore reads the assistant responses only); a
    server that says it can (memscore's own) computes only those, the others come back NaN. ``None``: every
    position. It never changes a number that is read, so it is not part of a request's cache key.
    """

    top_k: int = 0
    add_generation_prompt: bool | None = False
    return_token_ids: bool = True
    scored_roles: tuple[str, ...] | None = ("assistant",)

    @classmethod
    def seed(cls) -> RequestOptions:
        return cls(top_k=1, add_generation_prompt=None, return_token_ids=False, scored_roles=None)


@dataclass(frozen=True)
class ScoredPrompt:
    """The actual prompt tokens of one request and their log-probabilities.

    ``logprobs[0]`` is NaN (the first token has no context) and ``tokens[0]`` is ``None`` (the server sends
    no entry for it). ``token_ids[0]`` comes from ``prompt_token_ids`` when the server returns them, else -1.
    """

    token_ids: npt.NDArray[np.int64]
    logprobs: npt.NDArray[np.float64]
    tokens: list[str | None]
    prompt_tokens: int

    def __len__(self) -> int:
        return len(self.token_ids)


@dataclass(frozen=True)
class ModelCall:
    """One prompt-logprobs request: what is sent, how it is scored, and a label for logs and task names."""

    prompt: ChatPrompt
    options: RequestOptions
    label: str


Send = Callable[[ModelCall], Awaitable[ScoredPrompt]]

"""What a request's answer says of each response it sent: token ids, log-probs, start positions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from memscore_core.ablation.requests import PromptRequest
from memscore_core.ablation.spans import message_spans
from memscore_core.errors import ResponseFormatError
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import ScoredPrompt


@dataclass(frozen=True)


class ResponseLogprobs:
    """Token ids and log-probs of each scored response, by conversation entry index; ``starts``: the token
    position where each response's message starts in the prompt."""

    token_ids: dict[int, npt.NDArray[np.int64]]
    logprobs: dict[int, npt.NDArray[np.float64]]
    prompt_tokens: int
    starts: dict[int, int] = field(default_factory=dict)


def read_responses(conversation: Conversation, request: PromptRequest, scored: ScoredPrompt) -> ResponseLogprobs:
    """Split a scored prompt into the responses of the entries it sent."""
    spans = message_spans(scored, request.roles(conversation))
    offset = len(conversation.prefix_messages())
    token_ids, logprobs, starts = {}, {}, {}
    for span, entry in zip(spans[offset:], request.entries, strict=True):
        if span.role == "assistant":
            token_ids[entry] = scored.token_ids[span.response]
            logprobs[entry] = scored.logprobs[span.response]
            if np.isnan(logprobs[entry]).any():
                raise ResponseFormatError(f"the server sent no log-prob for some tokens of the response at entry "
                                          f"{entry}")
            starts[entry] = span.start
    return ResponseLogprobs(token_ids, logprobs, scored.prompt_tokens, starts)


def merged(answers: Iterable[ResponseLogprobs]) -> ResponseLogprobs:
    """The responses of several answers as one (e.g. every chunk's baseline); prompt tokens summed."""
    token_ids: dict[int, npt.NDArray[np.int64]] = {}
    logprobs: dict[int, npt.NDArray[np.float64]] = {}
    starts: dict[int, int] = {}
    tokens = 0
    for answer in answers:
        token_ids.update(answer.token_ids)
        logprobs.update(answer.logprobs)
        starts.update(answer.starts)
        tokens += answer.prompt_tokens
    return ResponseLogprobs(token_ids, logprobs, tokens, starts)

"""Parse vLLM-style prompt log-probabilities straight into numpy arrays.

vLLM returns one entry per prompt token: entry 0 is ``null``; entry i is a dict keyed by token id (a
string) whose **first** key is the actual prompt token, with ``logprob``, ``rank`` and
``decoded_token``. ``-inf`` arrives as ``-9999.0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from memscore_core.errors import ResponseFormatError

IM_START = "<|im_start|>"


@dataclass(frozen=True)
class ScoredPrompt:
    """The actual prompt tokens of one request and their log-probabilities.

    ``logprobs[0]`` is NaN (the first token has no context). ``tokens[0]`` is the first token's text
    when the server returned its id and the id is known to be ``<|im_start|>``; else ``None``.
    """

    token_ids: npt.NDArray[np.int64]
    logprobs: npt.NDArray[np.float64]
    tokens: list[str | None]
    prompt_tokens: int

    def __len__(self) -> int:
        return len(self.token_ids)


def parse_chat_body(body: bytes | str) -> ScoredPrompt:
    """Read a ``/v1/chat/completions`` response body that carries top-level ``prompt_logprobs``."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ResponseFormatError(f"response is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ResponseFormatError("response is not a JSON object")
    return parse_prompt_logprobs(document.get("prompt_logprobs"), document.get("prompt_token_ids"),
                                 _prompt_tokens(document))


def parse_prompt_logprobs(entries: Any, prompt_token_ids: Any = None, prompt_tokens: int | None = None) -> ScoredPrompt:
    """Arrays from a ``prompt_logprobs`` list (and ``prompt_token_ids`` when the server sent them)."""
    if not isinstance(entries, list) or not entries:
        raise ResponseFormatError("no prompt_logprobs in response")
    count = len(entries)
    ids = np.empty(count, dtype=np.int64)
    logprobs = np.empty(count, dtype=np.float64)
    tokens: list[str | None] = [None] * count
    logprobs[0] = np.nan
    ids[0] = -1
    try:
        for position in range(1, count):
            key, info = next(iter(entries[position].items()))
            ids[position] = int(key)
            logprobs[position] = info["logprob"]
            tokens[position] = info["decoded_token"]
    except (AttributeError, KeyError, StopIteration, TypeError, ValueError) as exc:
        raise ResponseFormatError(f"malformed prompt_logprobs entry {position}: {exc!r}") from exc
    if isinstance(prompt_token_ids, list) and prompt_token_ids:
        if len(prompt_token_ids) != count:
            raise ResponseFormatError(
                f"prompt_token_ids has {len(prompt_token_ids)} ids but prompt_logprobs {count} entries")
        ids[0] = int(prompt_token_ids[0])
        if not np.array_equal(ids[1:], np.asarray(prompt_token_ids[1:], dtype=np.int64)):
            raise ResponseFormatError("prompt_token_ids disagree with the keys of prompt_logprobs")
    return ScoredPrompt(ids, logprobs, tokens, prompt_tokens if prompt_tokens is not None else count)


def _prompt_tokens(document: dict[str, Any]) -> int | None:
    usage = document.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        return int(usage["prompt_tokens"])
    return None


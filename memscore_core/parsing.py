"""Parse vLLM-style prompt log-probabilities straight into numpy arrays.

vLLM returns one entry per prompt token: entry 0 is ``null``; entry i is a dict keyed by token id (a
string) whose **first** key is the actual prompt token, with ``logprob``, ``rank`` and
``decoded_token``. ``-inf`` arrives as ``-9999.0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

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


class _TokenLogprob(msgspec.Struct, gc=False):
    logprob: float
    decoded_token: str | None = None


class _Usage(msgspec.Struct, gc=False):
    prompt_tokens: int | None = None


class _ChatBody(msgspec.Struct, gc=False):
    """The only fields memscore reads; msgspec skips the rest of the body without building it."""

    prompt_logprobs: list[dict[int, _TokenLogprob] | None] | None = None
    prompt_token_ids: list[int] | None = None
    usage: _Usage | None = None


_DECODER = msgspec.json.Decoder(_ChatBody)


def parse_chat_body(body: bytes | str) -> ScoredPrompt:
    """Read a ``/v1/chat/completions`` response body that carries top-level ``prompt_logprobs``."""
    try:
        document = _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        raise ResponseFormatError(f"unexpected response shape: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ResponseFormatError(f"response is not valid JSON: {exc}") from exc
    entries = document.prompt_logprobs
    if not entries:
        raise ResponseFormatError("no prompt_logprobs in response")
    try:
        actual = [next(iter(entry.items())) for entry in entries[1:]]  # type: ignore[union-attr]
    except (AttributeError, StopIteration) as exc:
        position = next(i for i, entry in enumerate(entries) if i and not entry)
        raise ResponseFormatError(f"malformed prompt_logprobs entry {position}: empty or null") from exc
    count = len(entries)
    ids = np.empty(count, dtype=np.int64)
    logprobs = np.empty(count, dtype=np.float64)
    ids[0], logprobs[0] = -1, np.nan
    ids[1:] = np.fromiter((token_id for token_id, _ in actual), np.int64, count - 1)
    logprobs[1:] = np.fromiter((info.logprob for _, info in actual), np.float64, count - 1)
    tokens: list[str | None] = [None, *(info.decoded_token for _, info in actual)]
    _check_token_ids(ids, document.prompt_token_ids)
    usage = document.usage.prompt_tokens if document.usage else None
    return ScoredPrompt(ids, logprobs, tokens, usage if usage is not None else count)


def _check_token_ids(ids: npt.NDArray[np.int64], prompt_token_ids: list[int] | None) -> None:
    """Take the first token's id from ``prompt_token_ids`` and insist the rest agree with the keys."""
    if not prompt_token_ids:
        return
    if len(prompt_token_ids) != len(ids):
        raise ResponseFormatError(
            f"prompt_token_ids has {len(prompt_token_ids)} ids but prompt_logprobs {len(ids)} entries")
    ids[0] = prompt_token_ids[0]
    if not np.array_equal(ids[1:], np.asarray(prompt_token_ids[1:], dtype=np.int64)):
        raise ResponseFormatError("prompt_token_ids disagree with the keys of prompt_logprobs")



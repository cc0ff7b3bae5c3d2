"""Parse vLLM-style prompt log-probabilities straight into numpy arrays.

vLLM returns one entry per prompt token: entry 0 is ``null``; entry i is a dict keyed by token id (a
string) whose **first** key is the actual prompt token, with ``logprob``, ``rank`` and
``decoded_token``. ``-inf`` arrives as ``-9999.0``. When the body also carries ``prompt_token_ids``
(memscore always asks for them), each entry is read at its token's id instead, wherever the entry lists it.
memscore's own server sends ``logprob`` null at positions it was told need none (read as NaN).
"""

from __future__ import annotations

from operator import attrgetter

import msgspec
import numpy as np
import numpy.typing as npt

from memscore_core.errors import ResponseFormatError
from memscore_core.model.prompt import ScoredPrompt


class _TokenLogprob(msgspec.Struct, gc=False):
    logprob: float | None
    decoded_token: str | None = None


class _Usage(msgspec.Struct, gc=False):
    prompt_tokens: int | None = None


_Entry = dict[int, _TokenLogprob] | None


class _ChatBody(msgspec.Struct, gc=False):
    """The only fields memscore reads; msgspec skips the rest of the body without building it."""

    prompt_logprobs: list[_Entry] | None = None
    prompt_token_ids: list[int] | None = None
    usage: _Usage | None = None


_DECODER = msgspec.json.Decoder(_ChatBody)
_LOGPROB = attrgetter("logprob")
_DECODED = attrgetter("decoded_token")


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
    given = document.prompt_token_ids
    actual, ids = _actual_by_id(entries, given) if given else _actual_first(entries)
    logprobs = np.array([None, *map(_LOGPROB, actual)], dtype=np.float64)
    tokens: list[str | None] = [None, *map(_DECODED, actual)]
    usage = document.usage.prompt_tokens if document.usage else None
    return ScoredPrompt(ids, logprobs, tokens, usage if usage is not None else len(entries))


def _actual_by_id(entries: list[_Entry], prompt_token_ids: list[int]
                  ) -> tuple[list[_TokenLogprob], npt.NDArray[np.int64]]:
    """Each position's entry for its token in ``prompt_token_ids`` (which must be among the entry's keys)."""
    if len(prompt_token_ids) != len(entries):
        raise ResponseFormatError(
            f"prompt_token_ids has {len(prompt_token_ids)} ids but prompt_logprobs {len(entries)} entries")
    try:
        actual = list(map(dict.__getitem__, entries[1:], prompt_token_ids[1:]))  # type: ignore[arg-type]
    except (TypeError, KeyError):
        _reject_empty(entries)
        raise ResponseFormatError("prompt_token_ids disagree with the keys of prompt_logprobs") from None
    return actual, np.array(prompt_token_ids, dtype=np.int64)


def _actual_first(entries: list[_Entry]) -> tuple[list[_TokenLogprob], npt.NDArray[np.int64]]:
    """Each position's first entry, vLLM's actual prompt token; the first token's id is unknown (-1)."""
    scored = entries[1:]
    try:
        keys = list(map(next, map(iter, scored)))  # type: ignore[arg-type]
    except TypeError:
        keys = []
    if len(keys) != len(scored):
        _reject_empty(entries)
    ids = np.empty(len(entries), dtype=np.int64)
    ids[0] = -1
    ids[1:] = keys
    return list(map(dict.__getitem__, scored, keys)), ids  # type: ignore[arg-type]


def _reject_empty(entries: list[_Entry]) -> None:
    """Raise for the first empty or null entry after the first, if there is one."""
    position = next((i for i, entry in enumerate(entries) if i and not entry), None)
    if position is not None:
        raise ResponseFormatError(f"malformed prompt_logprobs entry {position}: empty or null")

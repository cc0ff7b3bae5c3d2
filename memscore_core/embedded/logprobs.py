"""Prompt log-probabilities as the embedded server answers them: per position, the actual token's log-prob, rank
and the top-k, with each token's text in context, from the output head's answers (:mod:`.head`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from memscore_core.embedded.detokenize import decode_in_context
from memscore_core.embedded.head import HeadAnswers

NEG_INF = -9999.0


@dataclass(frozen=True)
class PromptLogprobs:
    """Per position i ≥ 1: the actual token's log-prob and rank, and the top-k (ids, log-probs); ``scored``:
    which positions were computed (``None``: all; the others hold zeros)."""

    token_ids: list[int]
    logprobs: npt.NDArray[np.float32]
    ranks: npt.NDArray[np.int64]
    top_ids: npt.NDArray[np.int64]
    top_logprobs: npt.NDArray[np.float32]
    decoded: list[str]
    top_decoded: list[list[str]]
    scored: npt.NDArray[np.bool_] | None = None


def prompt_logprobs_of(ids: list[int], head: HeadAnswers, pieces: list[bytes]) -> PromptLogprobs:
    """``ids``' log-probs from ``head`` (its rows after the first token), with texts from each id's ``pieces``."""
    done = head.done.numpy()
    top = head.top_ids.numpy()
    decoded, pending = decode_in_context([pieces[i] for i in ids])
    return PromptLogprobs(token_ids=ids, logprobs=_finite(head.chosen.numpy()), ranks=head.ranks.numpy().copy(),
                          top_ids=top.copy(), top_logprobs=_finite(head.top_logprobs.numpy()), decoded=decoded,
                          top_decoded=[[_alternative(pending[i], pieces[int(t)]) for t in row]
                                       if done[i - 1] else [] for i, row in enumerate(top, start=1)],
                          scored=None if done.all() else done.copy())


def _alternative(pending: bytes, piece: bytes) -> str:
    """A top-k alternative's text: what it adds to the pending bytes (``""`` while a character is incomplete)."""
    before = pending.decode("utf-8", errors="replace")
    text = (pending + piece).decode("utf-8", errors="replace")
    new = text[len(before):] if text.startswith(before) else text
    return "" if new.endswith("\ufffd") else new


def _finite(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """vLLM sends -inf as -9999.0."""
    return np.where(np.isneginf(values), np.float32(NEG_INF), values).astype(np.float32)

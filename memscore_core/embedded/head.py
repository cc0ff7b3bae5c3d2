"""The output head's answers for a prompt's positions: log-prob and rank of the actual token, and the top-k.

Row ``i`` of a prompt's final hidden states predicts token ``i + 1``. Answers are computed only for the rows
asked for (a client that reads only the assistant responses asks for those) and kept per row, so a prompt that
shares a prefix takes them from the cache. Every head pass has at least ``MIN_ROWS`` rows (a short one is padded
with copies of its first row), so each row's numbers are bit-for-bit the same whichever rows it was computed with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from memscore_core.embedded.attention import MIN_ROWS, pieces

Head = Callable[[torch.Tensor], torch.Tensor]
"""Final hidden states [rows, hidden size] to float32 log-softmax rows over the vocabulary."""
VOCAB_BLOCK = 1024
"""Output columns per matrix product of the head: a [rows × 1,024] block of logits stays in the core's cache while
it is written, where one product over a 49k vocabulary writes 28 MB at once (SmolLM2, one thread, 144 rows: 0.70 ms
per row against 0.86). Each logit is still one dot product over the hidden size, the same bits (checked on MKL)."""


def logits(weight: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """``hidden`` [rows, hidden size] times the head's ``weight`` [vocabulary, hidden size] transposed, computed
    ``VOCAB_BLOCK`` output columns at a time."""
    out = hidden.new_empty(len(hidden), len(weight))
    for start in range(0, len(weight), VOCAB_BLOCK):
        torch.mm(hidden, weight[start:start + VOCAB_BLOCK].t(), out=out[:, start:start + VOCAB_BLOCK])
    return out


@dataclass
class HeadAnswers:
    """Per row of a prompt: whether it was answered, the actual token's log-prob and rank, the top ``top_k``."""

    top_k: int
    done: torch.Tensor
    chosen: torch.Tensor
    ranks: torch.Tensor
    top_logprobs: torch.Tensor
    top_ids: torch.Tensor

    @classmethod
    def empty(cls, rows: int, top_k: int) -> HeadAnswers:
        return cls(top_k, torch.zeros(rows, dtype=torch.bool), torch.zeros(rows), torch.zeros(rows, dtype=torch.long),
                   torch.zeros(rows, top_k), torch.zeros(rows, top_k, dtype=torch.long))

    def carried(self, kept: int, rows: int) -> HeadAnswers:
        """The answers of the first ``kept`` rows, for a prompt of ``rows`` rows sharing them (the rest not done)."""
        fresh = HeadAnswers.empty(rows, self.top_k)
        for mine, theirs in zip(fresh.columns(), self.columns(), strict=True):
            mine[:kept] = theirs[:kept]
        return fresh

    def columns(self) -> tuple[torch.Tensor, ...]:
        return self.done, self.chosen, self.ranks, self.top_logprobs, self.top_ids

    def answer(self, head: Head, hidden: torch.Tensor, actual: torch.Tensor, wanted: torch.Tensor,
               most_rows: int) -> None:
        """Answer the ``wanted`` rows not done yet, from ``hidden`` (their final hidden states) and ``actual``
        (the token each row predicts), in passes of at most ``most_rows`` rows."""
        todo = torch.nonzero(wanted & ~self.done)[:, 0]
        start = 0
        for size in pieces(len(todo), most_rows) if len(todo) else []:
            rows = todo[start:start + size]
            start += size
            padded = torch.cat([rows, rows[:1].expand(MIN_ROWS - size)]) if size < MIN_ROWS else rows
            for column, values in zip(self.columns()[1:], _scored(head, hidden[padded], actual[padded], self.top_k),
                                      strict=True):
                column[rows] = values[:size]
            self.done[rows] = True


def _scored(head: Head, hidden: torch.Tensor, actual: torch.Tensor, top_k: int
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each row's log-prob of ``actual`` and its rank, and the top ``top_k`` (log-probs, ids)."""
    rows = head(hidden)
    chosen = rows.gather(1, actual[:, None])[:, 0]
    ranks = (rows > chosen[:, None]).sum(dim=1, dtype=torch.int32).long() + 1  # int32: half the bytes to add
    if top_k == 0:
        return chosen, ranks, rows.new_empty(len(rows), 0), torch.empty(len(rows), 0, dtype=torch.long)
    top_lp, top_ids = rows.topk(top_k, dim=1)
    return chosen, ranks, top_lp, top_ids

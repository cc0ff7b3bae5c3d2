"""Stand-in log-probabilities: the real prompt tokens answered without a forward pass (emulated GPU servers)."""

from __future__ import annotations

import numpy as np

from memscore_core.embedded.logprobs import PromptLogprobs
from memscore_core.embedded.model import LocalModel

STAND_IN_CONTEXT = 4


def stand_in_logprobs(model: LocalModel, ids: list[int], top_k: int) -> PromptLogprobs:
    """Log-probabilities in (−10, 0] hashed from each token and the ``STAND_IN_CONTEXT`` before it, no forward pass.

    Deterministic, and removing a memory changes those of the tokens right after it, as a model's would. Each
    actual token ranks first; the other top-k entries are the following token ids, each one nat lower.
    """
    tokens = np.asarray(ids, dtype=np.uint64)
    mixed = np.zeros(len(ids) - 1, dtype=np.uint64)
    for back in range(STAND_IN_CONTEXT + 1):
        mixed = mixed * np.uint64(1_000_003) + np.concatenate([np.zeros(back, dtype=np.uint64), tokens])[1:len(ids)]
    logprobs = -((mixed % np.uint64(10_000)).astype(np.float32) / np.float32(1_000.0))
    size, vocab = len(ids) - 1, int(model.model.config.vocab_size)
    offsets = np.arange(max(top_k, 0), dtype=np.int64)
    top_ids = (np.asarray(ids[1:], dtype=np.int64)[:, None] + offsets) % vocab
    decoded = model.decode(ids)
    return PromptLogprobs(token_ids=ids, logprobs=logprobs, ranks=np.ones(size, dtype=np.int64), top_ids=top_ids,
                          top_logprobs=(logprobs[:, None] - offsets).astype(np.float32), decoded=decoded,
                          top_decoded=[[decoded[i]] + [""] * (len(offsets) - 1) if len(offsets) else []
                                       for i in range(1, len(ids))])

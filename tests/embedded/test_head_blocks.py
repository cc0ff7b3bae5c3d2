"""The output head computes its logits a vocabulary block at a time with the bits of one whole product."""

from __future__ import annotations

import pytest
import torch

from memscore_core.embedded.head import VOCAB_BLOCK, logits
from memscore_core.embedded.model import LocalModel
from tests.embedded.test_prefix_reuse import FACTS, encoded
from tests.support.models import require_smollm2


@pytest.mark.parametrize("threads", [1, 2])
def test_smollm2_logits_in_vocabulary_blocks_equal_one_product_bit_for_bit(threads: int) -> None:
    model = LocalModel(require_smollm2(), lanes=1, threads=threads)
    head = model.model.get_output_embeddings()
    assert head.weight.shape[0] > VOCAB_BLOCK
    torch.set_num_threads(threads)
    with torch.inference_mode():
        hidden = model.model.get_decoder()(torch.tensor([encoded(model, FACTS[:16])])).last_hidden_state[0]
        for rows in (8, 13, 85, 256):
            assert torch.equal(logits(head.weight, hidden[:rows]), head(hidden[:rows]))

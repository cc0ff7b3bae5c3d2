"""`memscore serve --no-forward-pass`: the real tokens and response shape, stand-in log-probabilities."""

from __future__ import annotations

import asyncio

import numpy as np

from memscore_core.backends.vllm import VllmBackend
from memscore_core.embedded.app import STAND_IN_CONTEXT, ServerOptions
from memscore_core.embedded.serve import embedded_transport
from memscore_core.model.prompt import ChatPrompt, RequestOptions, ScoredPrompt
from memscore_core.settings import DEFAULT_MODEL_DIR

MEMORY = {"role": "user", "content": "Recalled memory: the vault code is 4711."}
MESSAGES = [{"role": "system", "content": "You are helpful."}, MEMORY,
            {"role": "user", "content": "What is the vault code?"}, {"role": "assistant", "content": "It is 4711."}]


def scored(messages: list[dict[str, str]], *, forward_pass: bool, top_k: int = 0) -> ScoredPrompt:
    async def run() -> ScoredPrompt:
        transport = embedded_transport(DEFAULT_MODEL_DIR, options=ServerOptions(forward_pass=forward_pass))
        async with VllmBackend(base_url="http://stand-in/v1", model="memscore-tiny", transport=transport) as backend:
            return await backend.score(ChatPrompt(messages), RequestOptions(top_k=top_k))
    return asyncio.run(run())


def test_the_stand_in_answers_the_real_prompt_tokens_with_other_log_probabilities() -> None:
    real, stand_in = scored(MESSAGES, forward_pass=True), scored(MESSAGES, forward_pass=False)
    assert np.array_equal(stand_in.token_ids, real.token_ids) and stand_in.tokens == real.tokens
    assert not np.allclose(stand_in.logprobs[1:], real.logprobs[1:])
    assert np.all((stand_in.logprobs[1:] > -10) & (stand_in.logprobs[1:] <= 0))


def test_stand_in_log_probabilities_repeat_exactly_and_move_after_a_removed_memory() -> None:
    first, again = scored(MESSAGES, forward_pass=False), scored(MESSAGES, forward_pass=False, top_k=1)
    assert np.array_equal(first.logprobs[1:], again.logprobs[1:])
    ablated = scored([message for message in MESSAGES if message is not MEMORY], forward_pass=False)
    shared = next(n for n in range(1, len(ablated.token_ids))
                  if first.token_ids[-n - 1] != ablated.token_ids[-n - 1])  # tokens after the removed memory
    after = slice(-shared, -shared + STAND_IN_CONTEXT)
    assert not np.array_equal(first.logprobs[after], ablated.logprobs[after])
    assert np.array_equal(first.logprobs[-shared + STAND_IN_CONTEXT:], ablated.logprobs[-shared + STAND_IN_CONTEXT:])

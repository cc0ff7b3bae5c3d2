"""Score one conversation on the embedded model (or its stand-in) in-process, recording every model call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from memscore_core.backends.pool import RequestPool
from memscore_core.backends.vllm import RetryPolicy, VllmBackend
from memscore_core.config import ScoringConfig
from memscore_core.embedded.app import ServerOptions, build_app
from memscore_core.embedded.serve import load_model
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import ModelCall, ScoredPrompt
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.conversation import score_conversation
from memscore_core.scoring.sending import pool_sender
from memscore_core.settings import DEFAULT_MODEL_DIR

STAND_IN = ServerOptions(forward_pass=False)
"""``memscore serve --no-forward-pass``: real tokenizer and template, deterministic stand-in log-probs."""


def score(conversation: Conversation, config: ScoringConfig, *, options: ServerOptions | None = None,
          calls: list[ModelCall] | None = None, answers: list[tuple[ModelCall, ScoredPrompt]] | None = None,
          model_dir: Path = DEFAULT_MODEL_DIR) -> ConversationScore:
    """``conversation`` scored with ``config`` through a pool of 4; each call sent is appended to ``calls``,
    with its answer to ``answers``."""
    app = build_app(load_model(model_dir), options or ServerOptions(max_model_len=8192))
    backend = VllmBackend(base_url="http://embedded/v1", transport=httpx.ASGITransport(app=app),
                          retry=RetryPolicy(attempts=1))

    async def run() -> ConversationScore:
        async with backend, RequestPool(backend, 4) as pool:
            send = pool_sender(pool)

            async def recording(call: ModelCall) -> ScoredPrompt:
                if calls is not None:
                    calls.append(call)
                answer = await send(call)
                if answers is not None:
                    answers.append((call, answer))
                return answer

            return await score_conversation(conversation, recording, config, model=await backend.model())

    return asyncio.run(run())

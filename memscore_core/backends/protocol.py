"""The one interface every backend offers: a model name and prompt log-probabilities of messages."""

from __future__ import annotations

from typing import Protocol

from memscore_core.model.prompt import ChatPrompt, Message, RequestOptions, ScoredPrompt


class PromptBackend(Protocol):
    """Scores chat prompts: the token ids and log-probabilities of the rendered prompt."""

    async def model(self) -> str: ...

    async def score(self, prompt: ChatPrompt, options: RequestOptions) -> ScoredPrompt: ...

    async def generate(self, messages: list[Message], *, max_tokens: int = 128) -> str: ...

    async def aclose(self) -> None: ...

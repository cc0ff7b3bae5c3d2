"""Score one conversation with a strategy: the one entry point every caller uses.

Requests leave through a :data:`~memscore_core.model.prompt.Send` callable, so the same scoring runs wherever
a model call is executed: the CLI sends through a bounded request pool; a Prefect flow wraps each call in a
cached, retried task. Which requests are sent is the strategy's (:mod:`memscore_core.strategies.registry`).
"""

from __future__ import annotations

from memscore_core.config import ScoringConfig
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import Send
from memscore_core.model.result import ConversationScore


def estimated_prompt_tokens(conversation: Conversation, config: ScoringConfig) -> int:
    """Prompt tokens the strategy will send for ``conversation`` (≈ 4 characters a token), before any is sent."""
    return config.spec.estimate(conversation, config)


async def score_conversation(conversation: Conversation, send: Send, config: ScoringConfig, *,
                             model: str) -> ConversationScore:
    """Score one conversation, sending its requests through ``send``; ``model`` names the scoring model."""
    return await config.spec.score(conversation, send, config, model)

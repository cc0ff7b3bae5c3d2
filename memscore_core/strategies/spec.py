"""What a strategy is to the rest of memscore: a name, the settings it reads, how it scores and estimates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import Send
from memscore_core.model.result import ConversationScore

TUNING = ("masks", "noise_floor", "floor_quantile")
"""Settings only some strategies read; a strategy's result configuration keeps just the ones it reads."""


class StrategySettings(Protocol):
    """What a strategy reads of a scoring configuration (:class:`memscore_core.config.ScoringConfig`)."""

    @property
    def strategy(self) -> str: ...
    @property
    def chunk_tokens(self) -> int: ...
    @property
    def window(self) -> int | None: ...
    @property
    def masks(self) -> int: ...
    @property
    def noise_floor(self) -> float | None: ...
    @property
    def floor_quantile(self) -> float: ...
    @property
    def ablation(self) -> str: ...


Score = Callable[[Conversation, Send, StrategySettings, str], Awaitable[ConversationScore]]
"""Score one conversation: (conversation, send, settings, model name) → its score."""

Estimate = Callable[[Conversation, StrategySettings], int]
"""Prompt tokens a conversation will cost (≈ 4 characters a token), before anything is sent."""


@dataclass(frozen=True)
class StrategySpec:
    """One strategy.

    ``reads``: which of :data:`TUNING` it uses (they enter its configuration hash); ``hashed``: further
    constants of the strategy that change its results under an ablation (e.g. ``auto``'s thresholds);
    ``sequential``: one request and one conversation at a time (the seed, as the original did); ``replaces``:
    whether it can replace memories by fillers instead of removing them, and if not, ``removal_only_why`` says
    why.
    """

    name: str
    score: Score
    estimate: Estimate
    reads: tuple[str, ...] = ()
    hashed: Callable[[str], dict[str, Any]] = field(default=lambda ablation: {})
    sequential: bool = False
    replaces: bool = True
    removal_only_why: str = ""

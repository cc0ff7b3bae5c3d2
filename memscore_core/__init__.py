"""memscore: how much each memory in an LLM agent's conversation matters to its answers.

The public API, importable from here while the modules behind it move; each name is loaded on first use, so
``import memscore_core`` costs nothing::

    import asyncio
    from memscore_core import ScoringConfig, Store, load_conversations, open_scorer, run_scoring

    async def main() -> None:
        config = ScoringConfig(strategy="exact")
        loaded = load_conversations(["data/conversations"])
        async with open_scorer(config) as scorer:
            await run_scoring(loaded, Store("data/memscore.duckdb"), config, scorer.score, model=scorer.model,
                              backend_name=scorer.backend)

    asyncio.run(main())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "Conversation": "memscore_core.model.conversation",
    "ConversationScore": "memscore_core.model.result",
    "Entry": "memscore_core.model.conversation",
    "InputOptions": "memscore_core.formats.options",
    "LoadResult": "memscore_core.formats.loading",
    "MemscoreError": "memscore_core.errors",
    "RunSummary": "memscore_core.scoring.run",
    "STRATEGIES": "memscore_core.strategies.registry",
    "Scorer": "memscore_core.scoring.opening",
    "ScoringConfig": "memscore_core.config",
    "Settings": "memscore_core.settings",
    "Store": "memscore_core.store",
    "load_conversations": "memscore_core.formats.loading",
    "open_scorer": "memscore_core.scoring.opening",
    "run_scoring": "memscore_core.scoring.run",
    "score_conversation": "memscore_core.scoring.conversation",
}

__all__ = [
    "Conversation", "ConversationScore", "Entry", "InputOptions", "LoadResult", "MemscoreError", "RunSummary",
    "STRATEGIES", "Scorer", "ScoringConfig", "Settings", "Store", "load_conversations", "open_scorer", "run_scoring",
    "score_conversation",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'memscore_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from memscore_core.config import ScoringConfig
    from memscore_core.errors import MemscoreError
    from memscore_core.formats.loading import LoadResult, load_conversations
    from memscore_core.formats.options import InputOptions
    from memscore_core.model.conversation import Conversation, Entry
    from memscore_core.model.result import ConversationScore
    from memscore_core.scoring.conversation import score_conversation
    from memscore_core.scoring.opening import Scorer, open_scorer
    from memscore_core.scoring.run import RunSummary, run_scoring
    from memscore_core.settings import Settings
    from memscore_core.store import Store
    from memscore_core.strategies.registry import STRATEGIES

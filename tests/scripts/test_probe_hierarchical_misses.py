"""The hierarchical-misses probe: where the screen's descent tokens went, response by response."""

from __future__ import annotations

import asyncio
from types import ModuleType

import pytest

from memscore_core.bench.many_memories import _backend
from memscore_core.bench.strategies import score_corpus
from memscore_core.config import ScoringConfig
from memscore_core.model.result import ConversationScore
from memscore_core.settings import DEFAULT_MODEL_DIR
from memscore_core.strategies import hierarchical
from memscore_core.synth.many import ManyShape, generate_many
from tests.support.scripts import load_script

CONVERSATION = generate_many(5, 0, ManyShape(memories=8, used=2))


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for name in ("__init__", "_measure"):
        monkeypatch.setattr(hierarchical._Screen, name, getattr(hierarchical._Screen, name))
    module = load_script("probe_hierarchical_misses")
    module.record_screens()
    return module


def _scores() -> dict[str, ConversationScore]:
    async def run() -> dict[str, ConversationScore]:
        backend = _backend(DEFAULT_MODEL_DIR, None)
        try:
            scores = {}
            for strategy in ("exact", "hierarchical"):
                scored, failed, _ = await score_corpus([CONVERSATION], backend,
                                                       ScoringConfig(strategy=strategy), 1)
                assert not failed
                scores[strategy] = scored[0]
            return scores
        finally:
            await backend.aclose()

    return asyncio.run(run())


def test_every_descent_request_is_spent_on_the_responses_it_was_sent_for(probe: ModuleType) -> None:
    scores = _scores()
    floor = scores["hierarchical"].noise_floor
    assert floor is not None
    spent = probe.spend({CONVERSATION.id: scores["exact"]}, {CONVERSATION.id: floor}, {CONVERSATION.id: CONVERSATION})
    descent = sum(tokens for _, tokens, _ in probe.SPENT)
    assert probe.SPENT and all(columns for _, _, columns in probe.SPENT)
    assert "for no response" not in spent
    assert abs(sum(spent.values()) - descent) <= len(spent)
    assert 0 < descent < scores["hierarchical"].prompt_tokens

"""What a chunk will cost under each strategy, in characters of prompt, before anything is sent.

Used to size units of work (the runner's parts), so an estimate is enough: exact's requests are known; a
surrogate mask keeps half the chunk's memories; screening is charged the group-testing cost of finding
:data:`EXPECTED_USED` used memories, at 1.5 requests per level of a binary split, each about a whole chunk.
"""

from __future__ import annotations

import math

from memscore_core.ablation.requests import AblationPlan
from memscore_core.model.conversation import Conversation
from memscore_core.strategies.scope import ChunkScope

EXPECTED_USED = 4


def estimated_chunk_tokens(conversation: Conversation, plan: AblationPlan, scope: ChunkScope, strategy: str,
                           masks: int) -> int:
    """Characters of prompt the chunk's requests will send under ``strategy`` (baseline included)."""
    chunk = plan.baseline[scope.number].prompt(conversation).size() if plan.baseline else 0
    memories = len(scope.rows)
    if not memories:
        return chunk
    memory_chars = sum(len(conversation.entries[e].rendered_content()) for e in scope.entries
                       if conversation.entries[e].is_memory)
    if strategy == "exact":
        return chunk * (memories + 2) - memory_chars * 2
    if strategy == "surrogate":
        return chunk * (masks + 2) - memory_chars * (masks + 2) // 2
    used = min(memories, EXPECTED_USED)
    requests = 3 + 1.5 * used * max(math.log2(memories / used), 1.0)
    return int(chunk * requests) - memory_chars

"""Fillers for position-preserving ablation: content-free text with as many tokens as each memory.

``--ablation replace`` replaces a memory's text by its filler instead of removing the memory, so every later
token keeps its position and a divergence measures what the memory says, not how far the tokens after it
moved. A memory's token count is read where it matters, in its chunk's scored baseline, as the server
tokenised it in context: the decoded prompt tokens are joined into text, the memory's text is found from the
start of its message on, and the tokens it spans are counted. A memory whose text does not begin and end on
token boundaries there cannot be replaced token for token, and fails its conversation.

The filler repeats one word, ``a``: one token per word on the tokenizers of Qwen, Llama and memscore's own
model. Every replaced request checks that its responses start at the baseline's positions
(:func:`memscore_core.ablation.effects.removal_row`), so a tokenizer where this does not hold fails loudly.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate

from memscore_core.ablation.requests import AblationPlan
from memscore_core.ablation.spans import message_spans
from memscore_core.errors import AlignmentError
from memscore_core.model.conversation import Conversation
from memscore_core.model.prompt import ScoredPrompt

FILLER_WORD = "a"


def filler_text(tokens: int) -> str:
    """Content-free text of ``tokens`` tokens: the filler word repeated."""
    return " ".join([FILLER_WORD] * tokens)


def spanned_tokens(tokens: Sequence[str | None], text: str, first_token: int) -> int | None:
    """How many of the decoded ``tokens`` spell ``text`` at its first occurrence from token ``first_token``
    on; None when it does not occur there or does not begin and end on token boundaries."""
    starts = [0, *accumulate(len(token or "") for token in tokens)]
    at = "".join(token or "" for token in tokens).find(text, starts[min(first_token, len(tokens))])
    if at < 0:
        return None
    first, last = bisect_left(starts, at), bisect_left(starts, at + len(text))
    if starts[first] != at or starts[last] != at + len(text):
        return None
    return last - first


def memory_fillers(conversation: Conversation, plan: AblationPlan, baselines: Sequence[ScoredPrompt]) -> dict[int, str]:
    """Each memory's filler (by row of ``Conversation.memories``), from the scored baselines of ``plan``'s
    chunks (in order): entry memories in their chunk's, system memories in the first chunk's."""
    refs = conversation.memories
    rows = {ref.entry: row for row, ref in enumerate(refs) if ref.entry is not None}
    counts: dict[int, int | None] = {}
    for request, scored in zip(plan.baseline, baselines, strict=True):
        if request.chunk == 0:
            counts |= {row: spanned_tokens(scored.tokens, conversation.system_memories[ref.system].content, 0)
                       for row, ref in enumerate(refs) if ref.system is not None}
        spans = message_spans(scored, request.roles(conversation))[len(conversation.prefix_messages()):]
        entries = conversation.entries
        counts |= {rows[entry]: spanned_tokens(scored.tokens, entries[entry].rendered_content(), span.start)
                   for span, entry in zip(spans, request.entries, strict=True) if entry in rows}
    unplaced = [refs[row].key for row, count in counts.items() if count is None]
    if unplaced:
        raise AlignmentError(f"conversation {conversation.id!r}: memories {unplaced} do not begin and end on token "
                             f"boundaries of the scored prompt, so they cannot be replaced token for token "
                             f"(use --ablation remove)")
    return {row: filler_text(count) for row, count in sorted(counts.items()) if count is not None}

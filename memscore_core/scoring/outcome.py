"""What happened to one conversation of a run."""

from __future__ import annotations

from dataclasses import dataclass

from memscore_core.errors import MemscoreError
from memscore_core.formats.loading import LoadedConversation
from memscore_core.model.result import ConversationScore


@dataclass(frozen=True)


class Outcome:
    """What happened to one conversation: a score or the error that stopped it."""

    loaded: LoadedConversation
    score: ConversationScore | None = None
    error: MemscoreError | None = None

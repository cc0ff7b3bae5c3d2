"""What one scoring request sends: chat messages and, when the conversation declares them, its tools.

Both go to the server, whose own chat template renders them; both are part of a request's identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]


@dataclass(frozen=True)
class ChatPrompt:
    """Messages in OpenAI chat format, plus the ``tools`` list the template renders (``None``: no tools)."""

    messages: list[Message]
    tools: list[dict[str, Any]] | None = None

    def size(self) -> int:
        """Characters of text content: how long the prompt is, for scheduling longest first."""
        return sum(len(message.get("content") or "") for message in self.messages
                   if isinstance(message.get("content"), str))

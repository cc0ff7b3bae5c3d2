"""Input formats, each read into memscore's schema: memscore's own, OpenAI chat, Letta agent files.

:func:`convert_record` turns one JSON record into converted conversations (or the errors that stopped
them); :mod:`memscore_core.formats.loading` validates them into :class:`~memscore_core.model.conversation.Conversation`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from memscore_core.errors import InputError
from memscore_core.formats.detect import detect_format
from memscore_core.formats.letta import convert_letta
from memscore_core.formats.openai import convert_openai
from memscore_core.formats.options import InputFormat, InputOptions
from memscore_core.formats.record import Converted
from memscore_core.formats.source import RecordSource, field_name

__all__ = ["Converted", "InputFormat", "InputOptions", "RecordSource", "convert_record", "field_name"]


def convert_record(raw: dict[str, Any], source: RecordSource, options: InputOptions,
                   suffix: str) -> Iterator[Converted | InputError]:
    """The conversations of one record in its format (told by content unless ``options`` force one)."""
    kind = detect_format(raw, suffix, options.input_format)
    if kind == "memscore":
        conversation_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        yield Converted(raw, RecordSource(source.file, source.line, conversation_id=conversation_id))
        return
    try:
        yield from (convert_letta if kind == "letta" else convert_openai)(raw, source, options)
    except InputError as error:
        yield error

"""Find Letta core-memory blocks in an agent's compiled system message.

A block is located by its label, inside the ``<memory_blocks>`` section (the whole message when it has no
such section, as in older agent files): it ends at the first ``</LABEL>`` and starts at the last
``<LABEL>`` or ``<LABEL attributes>`` before that (instructions may mention the tag earlier), and takes
the line breaks that follow it. That text, exactly as the model saw it, is the block; removing it leaves the
message as it would read without the block.
"""

from __future__ import annotations

from collections.abc import Iterable

from memscore_core.model.conversation import memory_slot

_SECTION_OPEN, _SECTION_CLOSE = "<memory_blocks>", "</memory_blocks>"


def block_span(text: str, label: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the block ``label`` lies in ``text[start:end]``, trailing line breaks included; None if absent."""
    closing = text.find(f"</{label}>", start, end)
    if closing < 0:
        return None
    opening = max(text.rfind(f"<{label}>", start, closing), text.rfind(f"<{label} ", start, closing))
    if opening < 0:
        return None
    stop = closing + len(label) + 3
    while stop < end and text[stop] == "\n":
        stop += 1
    return opening, stop


def cut_blocks(text: str, labels: Iterable[str]) -> tuple[str, list[tuple[str, str]], list[str]]:
    """``text`` with each found block replaced by its memory slot, the (label, block text) pairs in reading
    order, and the labels not found (or overlapping a block found before them)."""
    start, end = 0, len(text)
    opened = text.find(_SECTION_OPEN)
    if opened >= 0 and text.find(_SECTION_CLOSE, opened) >= 0:
        start, end = opened + len(_SECTION_OPEN), text.find(_SECTION_CLOSE, opened)
    wanted = list(dict.fromkeys(labels))
    spans = sorted((span, label) for label in wanted if (span := block_span(text, label, start, end)) is not None)
    pieces, blocks, position = [], [], 0
    for (opening, stop), label in spans:
        if opening < position:
            continue
        pieces += [text[position:opening], memory_slot(label)]
        blocks.append((label, text[opening:stop]))
        position = stop
    pieces.append(text[position:])
    found = {label for label, _ in blocks}
    return "".join(pieces), blocks, [label for label in wanted if label not in found]

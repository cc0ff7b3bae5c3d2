"""Decode prompt tokens the way vLLM reports them: in context, one piece per token.

Byte-level BPE tokens map to bytes; a token that leaves a UTF-8 character incomplete decodes to ``""``
and the token that completes it carries the whole character. Special tokens decode literally.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache


@lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    """The inverse of GPT-2's byte ↦ printable-character table used by byte-level BPE vocabularies."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes, strict=True)}


def token_bytes(piece: str, special: bool) -> bytes:
    """The bytes of one vocabulary entry."""
    if special:
        return piece.encode()
    table = _unicode_to_byte()
    return bytes(table[ch] for ch in piece) if all(ch in table for ch in piece) else piece.encode()


def decode_in_context(pieces: Sequence[bytes]) -> tuple[list[str], list[bytes]]:
    """Per token, the text it completes given the tokens before it, and the undecoded bytes before it."""
    out: list[str] = []
    before: list[bytes] = []
    pending = b""
    for piece in pieces:
        before.append(pending)
        text, pending = complete_text(pending + piece)
        out.append(text)
    return out, before


def complete_text(data: bytes) -> tuple[str, bytes]:
    """The complete characters of ``data`` and the bytes of a trailing incomplete one."""
    try:
        return data.decode("utf-8"), b""
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data" and len(data) - error.start < 4:
            return data[:error.start].decode("utf-8", errors="replace"), data[error.start:]
        return data.decode("utf-8", errors="replace"), b""

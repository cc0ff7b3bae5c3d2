"""Causal attention whose every row is bit-for-bit the same however a prompt is split into passes.

torch's fused attention (``sdpa``) blocks its work by the pass's query and key lengths, so a position's hidden
state depends, in its last bits, on where the pass computing it began; a prefix cache could then only be reused
at fixed slice boundaries. Here each query row's result depends on its own position and the keys before it only:
the scores are one matrix product per key/value head over a key length padded to whole ``KEY_BLOCK`` blocks
(masked to exactly zero weight), and the weighted values are summed a ``KEY_BLOCK`` block at a time in key
order, so a longer pass only adds exact zeros. Measured on this CPU's MKL (rows 1 to 199, SmolLM2's and the tiny
models' shapes): matrix products of 4 rows or more give every row the same bits whatever the rows around it on one
thread; on two threads products of 5–7 and 9–11 rows take another path, and 12 or more agree (``MIN_ROWS`` keeps
every pass and head pass at 12 or more).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from memscore_core.embedded.hf import AttentionInterface, AttentionMaskInterface

NAME = "memscore_rows"
KEY_BLOCK = 64
SCORE_ELEMENTS = 1 << 20
"""Attention scores per matrix product (4 MB): longer passes take their query rows in pieces."""
MIN_ROWS = 12
"""Fewest rows a pass computes (a whole prompt shorter than that excepted): smaller matrix products may take
another path through MKL, with other bits (on two threads, 9–11 rows do)."""
ROW_BLOCK = 128
"""Query rows per attention product at most, at multiples of this position: rows early in a pass skip the later
key blocks (masked for them) instead of scoring them."""


def row_invariant_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                            attention_mask: torch.Tensor | None, scaling: float | None = None,
                            **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Causal attention of ``query`` (the pass's last rows of the ``key`` length) in transformers' interface:
    [batch, heads, rows, dim] in, [batch, rows, heads, dim] out. The mask is implied (no padding)."""
    batch, heads, rows, dim = query.shape
    kv_heads, length = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    padded = -(-length // KEY_BLOCK) * KEY_BLOCK
    if padded > length:
        key = torch.nn.functional.pad(key, (0, 0, 0, padded - length))
        value = torch.nn.functional.pad(value, (0, 0, 0, padded - length))
    scale = scaling if scaling is not None else dim ** -0.5
    grouped = (query * scale).reshape(batch * kv_heads, groups, rows, dim)
    keys, values = key.reshape(batch * kv_heads, padded, dim), value.reshape(batch * kv_heads, padded, dim)
    out, first = [], length - rows
    for size in row_pieces(first, rows, max(MIN_ROWS, SCORE_ELEMENTS // (heads * padded))):
        seen = -(-(first + size) // KEY_BLOCK) * KEY_BLOCK
        part = grouped[:, :, :size].reshape(batch * kv_heads, groups * size, dim)
        grouped = grouped[:, :, size:]
        mask = _causal_mask(groups, first, size, seen).expand(batch * kv_heads, -1, -1)
        probs = torch.softmax(torch.baddbmm(mask, part, keys[:, :seen].transpose(1, 2)), dim=-1)
        weighted = torch.bmm(probs[..., :KEY_BLOCK], values[:, :KEY_BLOCK])
        for start in range(KEY_BLOCK, seen, KEY_BLOCK):
            weighted += torch.bmm(probs[..., start:start + KEY_BLOCK], values[:, start:start + KEY_BLOCK])
        out.append(weighted.view(batch, heads, size, dim))
        first += size
    return torch.cat(out, dim=2).transpose(1, 2).contiguous(), None


def row_pieces(first: int, rows: int, most: int) -> list[int]:
    """Query rows ``first`` to ``first + rows`` as pieces ending at multiples of ``ROW_BLOCK`` positions (none
    below ``MIN_ROWS``, none above ``most``), so each piece scores only the key blocks up to its last row."""
    cuts = [first, *range((first // ROW_BLOCK + 1) * ROW_BLOCK, first + rows, ROW_BLOCK), first + rows]
    sizes = [b - a for a, b in zip(cuts, cuts[1:], strict=False)]
    merged: list[int] = []
    for size in sizes:
        if merged and (merged[-1] < MIN_ROWS or size < MIN_ROWS):
            merged[-1] += size
        else:
            merged.append(size)
    return [piece for size in merged for piece in pieces(size, most)]


def pieces(total: int, most: int) -> list[int]:
    """``total`` rows as the fewest pieces of at most ``most``, as equal as can be (none below ``most // 2``)."""
    count = max(1, -(-total // most))
    return [total // count + (1 if piece < total % count else 0) for piece in range(count)]


@lru_cache(maxsize=8)
def _causal_mask(groups: int, first: int, rows: int, padded: int) -> torch.Tensor:
    """0 where query rows ``first`` to ``first + rows`` (``groups`` times over) see a key, -inf elsewhere."""
    positions = torch.arange(first, first + rows).repeat(groups)[:, None]
    mask = torch.zeros(groups * rows, padded)
    return mask.masked_fill_(torch.arange(padded)[None, :] > positions, float("-inf"))


def _no_mask(*args: Any, **kwargs: Any) -> None:
    return None


AttentionInterface.register(NAME, row_invariant_attention)
AttentionMaskInterface.register(NAME, _no_mask)

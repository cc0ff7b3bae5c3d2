"""Which prompt positions lie in the messages of given roles, found in the token stream of a ChatML prompt.

A message opens at ``<|im_start|>``; its role is its text up to the first newline. Every position from one
``<|im_start|>`` to the next belongs to that message (its header and ``<|im_end|>`` included), so the positions
found hold every token a client reads as the message's content.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

IM_START = "<|im_start|>"


def role_positions(ids: Sequence[int], pieces: Sequence[bytes], start_id: int, roles: Collection[str]
                   ) -> npt.NDArray[np.bool_] | None:
    """A mask over ``ids``: the positions in messages of ``roles`` (``pieces``: each vocabulary entry's bytes).

    ``None`` when the prompt holds no ``<|im_start|>``: nothing says where its messages are.
    """
    array = np.asarray(ids, dtype=np.int64)
    starts = np.flatnonzero(array == start_id).tolist()
    if not starts:
        return None
    wanted = np.zeros(len(array), dtype=np.bool_)
    for start, end in zip(starts, starts[1:] + [len(array)], strict=True):
        if _role(ids, pieces, start + 1, end) in roles:
            wanted[start:end] = True
    return wanted


def _role(ids: Sequence[int], pieces: Sequence[bytes], first: int, end: int) -> str:
    """The text from ``first`` up to the first newline (or ``end``)."""
    header = b""
    for position in range(first, end):
        header += pieces[ids[position]]
        if b"\n" in header:
            break
    return header.split(b"\n", 1)[0].decode("utf-8", errors="replace")

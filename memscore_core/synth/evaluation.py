"""Score quality against planted ground truth (``meta.uses_memories`` on assistant entries).

Only memories that precede an answer can influence it, so every statistic looks at those cells.
The redundancy check looks at answers that use one fact surfaced twice: leave-one-out of either copy
barely moves them, while dropping all memories does.
The noise floor is calibrated from *null ablations*: removing a memory that a memory-using answer
provably does not use. Its 99th percentile is the divergence that noise alone rarely exceeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.synth.generator import copy_key

FLOOR_QUANTILE = 0.99


@dataclass(frozen=True)
class Answer:
    """A planted answer: its kind (``one``, ``two``, ``none``, ``redundant``), the memories it uses, the cells of the
    memories before it and its drop-all."""

    kind: str
    used: set[str]
    cells: dict[str, float]
    drop_all: float | None

    def top(self, count: int) -> set[str]:
        """The ``count`` memories with the largest cells."""
        return {key for key, _ in sorted(self.cells.items(), key=lambda kv: kv[1], reverse=True)[:count]}

    def found(self) -> bool | None:
        """Whether its top memory (two, for a two-memory answer) is the one it uses; None where it is not ranked
        (another kind, or fewer cells than memories it uses)."""
        if self.kind == "one" and self.cells:
            return self.top(1) == self.used
        if self.kind == "two" and len(self.cells) >= 2:
            return self.used <= self.top(2)
        return None


def evaluate(pairs: Sequence[tuple[Conversation, ConversationScore]]) -> dict[str, float | int | None]:
    """Precision@1 and two-memory recall with the answers each is over (``n_single``, ``n_two_memory``), used/unused
    medians, the floor and the redundancy check; a statistic over no answers is None."""
    judged = [answer for conversation, score in pairs for answer in answers(conversation, score)]
    single = [a for a in judged if a.kind == "one" and a.cells]
    double = [a for a in judged if a.kind == "two" and len(a.cells) >= 2]
    none = [a for a in judged if a.kind == "none" and a.cells]
    redundant = [a for a in judged if a.kind == "redundant" and _is_fact_and_copy(a.used)]
    used = [v for a in judged if a.kind in ("one", "two") for k, v in a.cells.items() if k in a.used]
    null = [v for a in judged if a.kind in ("one", "two", "redundant") for k, v in a.cells.items() if k not in a.used]
    unused = null + [v for a in none for v in a.cells.values()]
    floor = float(np.quantile(null, FLOOR_QUANTILE)) if null else None
    return {
        "n_answers": len(judged),
        "n_single": len(single),
        "precision_at_1": _mean([a.found() is True for a in single]),
        "n_two_memory": len(double),
        "recall_two_memory": _mean([a.found() is True for a in double]),
        "median_used_divergence": _median(used),
        "median_unused_divergence": _median(unused),
        "used_unused_ratio": _ratio(_median(used), _median(unused)),
        "noise_floor": floor,
        "no_memory_under_floor": _mean([max(a.cells.values()) < floor for a in none]) if floor is not None else None,
        "n_redundant": len(redundant),
        "redundant_median_best_loo": _median([max((a.cells[k] for k in a.used if k in a.cells), default=0.0)
                                              for a in redundant]),
        "redundant_median_drop_all": _median([a.drop_all for a in redundant if a.drop_all is not None]),
    }


def answers(conversation: Conversation, score: ConversationScore) -> list[Answer]:
    """The planted answers of ``conversation`` with their kind, the memories they use, and the cells of the memories
    before them."""
    found = []
    for column, entry_idx in enumerate(score.response_entry_indices):
        if entry_idx is None:
            continue
        meta = conversation.entries[entry_idx].meta
        if "uses_memories" not in meta:
            continue
        cells = {}
        for key, memory_idx, row in zip(score.memory_keys, score.memory_entry_indices, score.matrix, strict=True):
            value = row[column] if column < len(row) else None
            if (memory_idx is None or memory_idx < entry_idx) and value is not None:
                cells[key] = float(value)
        drop = score.drop_all[column] if column < len(score.drop_all) else None
        found.append(Answer(str(meta.get("kind", "")), set(meta["uses_memories"]), cells, drop))
    return found


def _is_fact_and_copy(used: set[str]) -> bool:
    """Whether an answer uses exactly one fact, surfaced twice (so drop-all and leave-one-out compare)."""
    return len(used) == 2 and any(copy_key(key) in used for key in used)


def _mean(flags: Sequence[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None:
        return None
    return numerator / denominator if denominator > 0 else float("inf")

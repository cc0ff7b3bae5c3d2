"""Strategies side by side on the same conversations: cost, quality against ground truth, agreement with exact.

Each strategy scores the whole corpus through the same backend (no request cache, so none answers from
another's requests), one strategy after the other. Per strategy: requests, prompt tokens, wall seconds,
precision@1 and two-memory recall (:func:`memscore_core.synth.evaluation.evaluate`, on each cell's best value:
exact where scored, else the screened or surrogate estimate; every other statistic of ``quality`` reads exact
cells only), and top-1 agreement with ``exact``: on each response whose exact top cell is above the
conversation's noise floor, whether the strategy's top memory is exact's, and how many of those responses the
drop-all did not score or moved at most the floor (a screen that removes groups never refines them, whatever
the strategy of the row). Token and request ratios are to
``exact`` in the same run; a windowed configuration is judged against exact with the same window, if it ran.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel

from memscore_core.backends.protocol import PromptBackend
from memscore_core.config import ScoringConfig
from memscore_core.formats.loading import LoadedConversation
from memscore_core.model.conversation import Conversation
from memscore_core.model.result import ConversationScore
from memscore_core.scoring.opening import open_scorer
from memscore_core.synth.evaluation import evaluate


class StrategyRow(BaseModel):
    """One strategy's cost and quality over the corpus."""

    name: str
    config: ScoringConfig
    conversations: int
    failed: int
    requests: int
    prompt_tokens: int
    wall_s: float
    precision_at_1: float | None
    recall_two_memory: float | None
    n_single: int
    n_two_memory: int
    quality: dict[str, float | int | None]
    top1_agreement: float | None
    top1_agreement_within_floor: float | None
    agreement_responses: int
    agreement_unreachable: int
    exact_cells: int
    estimated_cells: int
    chunk_strategies: dict[str, int]
    tokens_vs_exact: float | None = None
    requests_vs_exact: float | None = None


class StrategyComparison(BaseModel):
    """Every strategy's row; ``floors`` the noise floor per conversation that agreement was judged at."""

    rows: list[StrategyRow]
    floors: dict[str, float]


def best_cells(score: ConversationScore) -> list[list[float | None]]:
    """Each cell's best available value: the exact cell where scored, else its estimate (screened/surrogate)."""
    if score.screened is None:
        return score.matrix
    return [[cell if cell is not None else estimate for cell, estimate in zip(row, estimates, strict=True)]
            for row, estimates in zip(score.matrix, score.screened, strict=True)]


def top1_agreement(exact: ConversationScore, other: ConversationScore, floor: float) -> tuple[int, int, int]:
    """(agreeing, agreeing within the floor, judged) responses: judged where exact's top cell among memories
    before the response is above ``floor``; agreeing where ``other``'s top memory there (on its best cells) is
    the same; agreeing within the floor also where exact scores ``other``'s pick less than ``floor`` below its
    top (two memories no further apart than a content-free entry moves the response)."""
    mine = best_cells(other)
    agreeing = tied = 0
    judged = _judged_columns(exact, floor)
    for column, rows, truth in judged:
        guess = _scored(mine, rows, column)
        pick = _argmax(guess) if guess else None
        agreeing += pick == _argmax(truth)
        tied += pick is not None and truth.get(pick, 0.0) >= max(truth.values()) - floor
    return agreeing, tied, len(judged)


def unreachable(exact: ConversationScore, floor: float) -> int:
    """Responses judged for agreement (exact's top above ``floor``) that the drop-all request did not score or
    moved at most ``floor``: a screen that removes groups refines nothing on their account, so they agree only
    when the descent for another response measures their top memory."""
    return sum(1 for column, _, _ in _judged_columns(exact, floor)
               if (moved := exact.drop_all[column]) is None or moved <= floor)


def _judged_columns(exact: ConversationScore, floor: float) -> list[tuple[int, list[int], dict[int, float]]]:
    """(column, rows before the response, exact's cells there) of each response whose top exact cell is above
    ``floor``."""
    judged = []
    for column in range(len(exact.response_entry_indices)):
        rows = rows_before(exact, column)
        truth = _scored(exact.matrix, rows, column)
        if truth and max(truth.values()) > floor:
            judged.append((column, rows, truth))
    return judged


def rows_before(score: ConversationScore, column: int) -> list[int]:
    """The memory rows response ``column`` can depend on: system memories and memory entries before it (none for
    a column without a response entry)."""
    entry = score.response_entry_indices[column]
    if entry is None:
        return []
    return [m for m, memory in enumerate(score.memory_entry_indices) if memory is None or memory < entry]


def top_memory(cells: Sequence[Sequence[float | None]], score: ConversationScore, column: int) -> int | None:
    """The row of the largest of ``cells`` among the memories before response ``column`` (the first on ties);
    None where none of them has a cell."""
    scored = _scored(cells, rows_before(score, column), column)
    return _argmax(scored) if scored else None


def _scored(cells: Sequence[Sequence[float | None]], rows: Sequence[int], column: int) -> dict[int, float]:
    return {m: value for m in rows if (value := cells[m][column]) is not None}


def _argmax(cells: Mapping[int, float]) -> int:
    """The row of the largest value, the first on ties."""
    rows = list(cells)
    return rows[int(np.argmax(np.array([cells[m] for m in rows])))]


async def score_corpus(conversations: Sequence[Conversation], backend: PromptBackend, config: ScoringConfig,
                       concurrency: int) -> tuple[list[ConversationScore], int, float]:
    """Every conversation's score under ``config`` (in input order), the failures and the wall seconds."""
    loaded = [LoadedConversation(conversation, "<bench>", index + 1)
              for index, conversation in enumerate(conversations)]
    async with open_scorer(config, backend=backend, concurrency=concurrency) as scorer:
        began = time.perf_counter()
        outcomes = await scorer.outcomes(loaded)
    wall = time.perf_counter() - began
    scores = [outcome.score for outcome in outcomes if outcome.score is not None]
    return scores, len(outcomes) - len(scores), wall


async def compare_strategies(conversations: Sequence[Conversation], backend: PromptBackend,
                             configs: Mapping[str, ScoringConfig], *, concurrency: int = 4) -> StrategyComparison:
    """Score ``conversations`` with each of ``configs`` (by name) and compare them; agreement and ratios are
    judged against the first exact configuration (none without one), with each configuration's window and
    ablation (:func:`reference_of`)."""
    measured = {name: await score_corpus(conversations, backend, config, concurrency)
                for name, config in configs.items()}
    by_id = {name: {score.conversation_id: score for score in scores} for name, (scores, _, _) in measured.items()}
    floors = {conversation.id: _floor(conversation.id, by_id) for conversation in conversations}
    reference = next((name for name, config in configs.items() if config.strategy == "exact"), None)
    references = {name: reference_of(name, configs, reference) for name in configs}
    rows = [_row(name, configs[name], conversations, scores, failed, wall,
                 by_id.get(references[name] or ""), floors)
            for name, (scores, failed, wall) in measured.items()]
    by_name = {row.name: row for row in rows}
    for row in rows:
        exact_row = by_name.get(references[row.name] or "")
        if exact_row is not None:
            row.tokens_vs_exact = _ratio(row.prompt_tokens, exact_row.prompt_tokens)
            row.requests_vs_exact = _ratio(row.requests, exact_row.requests)
    return StrategyComparison(rows=rows, floors=floors)


def reference_of(name: str, configs: Mapping[str, ScoringConfig], reference: str | None) -> str | None:
    """The exact configuration ``name`` is judged against: ``reference`` with ``name``'s window and ablation if it
    ran (a window or a replacement changes what exact measures), else with its ablation and ``reference``'s
    window; none where exact did not run with that ablation."""
    if reference is None or reference not in configs:
        return None
    config = configs[name]
    for update in ({"window": config.window, "ablation": config.ablation}, {"ablation": config.ablation}):
        same = configs[reference].model_copy(update=update)
        found = next((other for other, candidate in configs.items() if candidate == same), None)
        if found is not None:
            return found
    return None


def _floor(conversation_id: str, by_id: Mapping[str, Mapping[str, ConversationScore]]) -> float:
    """The conversation's measured noise floor from whichever strategy measured one (0 if none did)."""
    floors = [scores[conversation_id].noise_floor for scores in by_id.values() if conversation_id in scores]
    return next((floor for floor in floors if floor is not None), 0.0)


def _row(name: str, config: ScoringConfig, conversations: Sequence[Conversation], scores: list[ConversationScore],
         failed: int, wall: float, exact: Mapping[str, ConversationScore] | None,
         floors: Mapping[str, float]) -> StrategyRow:
    source = {conversation.id: conversation for conversation in conversations}
    ranked = evaluate([(source[s.conversation_id], s.model_copy(update={"matrix": best_cells(s)})) for s in scores])
    quality = evaluate([(source[s.conversation_id], s) for s in scores])
    agreeing = tied = judged = unreached = 0
    for score in scores:
        if exact is not None and score.conversation_id in exact:
            reference, floor = exact[score.conversation_id], floors[score.conversation_id]
            a, t, j = top1_agreement(reference, score, floor)
            agreeing, tied, judged = agreeing + a, tied + t, judged + j
            unreached += unreachable(reference, floor)
    strategies: dict[str, int] = {}
    for score in scores:
        for strategy in score.chunk_strategies or [score.strategy] * len(score.chunks):
            strategies[strategy] = strategies.get(strategy, 0) + 1
    return StrategyRow(
        name=name, config=config, conversations=len(scores), failed=failed,
        requests=sum(s.requests for s in scores), prompt_tokens=sum(s.prompt_tokens for s in scores),
        wall_s=round(wall, 3), precision_at_1=_number(ranked["precision_at_1"]),
        recall_two_memory=_number(ranked["recall_two_memory"]), n_single=int(ranked["n_single"] or 0),
        n_two_memory=int(ranked["n_two_memory"] or 0), quality=quality,
        top1_agreement=agreeing / judged if judged else None,
        top1_agreement_within_floor=tied / judged if judged else None, agreement_responses=judged,
        agreement_unreachable=unreached,
        exact_cells=sum(cell is not None for s in scores for row in s.matrix for cell in row),
        estimated_cells=sum(cell is not None for s in scores for row in s.screened or [] for cell in row),
        chunk_strategies=strategies)


def _number(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def _ratio(value: int, reference: int) -> float | None:
    return value / reference if reference else None

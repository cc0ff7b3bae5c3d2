"""Divergence math."""

from __future__ import annotations

import numpy as np

from memscore_core.ablation.divergence import column_sums, response_divergences, row_sums
from memscore_core.strategies.seed import seed_row


def test_clipped_divergence_counts_only_tokens_the_memory_helped() -> None:
    clipped, _ = response_divergences(np.array([-1.0, -2.0, -0.5]), np.array([-3.0, -1.0, -0.5]), [3])
    assert clipped.tolist() == [2.0]


def test_signed_divergence_keeps_negative_drops() -> None:
    _, signed = response_divergences(np.array([-1.0, -2.0]), np.array([-3.0, -1.0]), [2])
    assert signed.tolist() == [1.0]


def test_divergences_are_summed_per_response_and_an_empty_response_scores_zero() -> None:
    base = np.array([-1.0, -1.0, -2.0, -0.5])
    without = np.array([-2.0, -0.5, -4.0, -1.5])
    clipped, signed = response_divergences(base, without, [0, 2, 0, 1, 1, 0])
    assert clipped.tolist() == [0.0, 1.0, 0.0, 2.0, 1.0, 0.0]
    assert signed.tolist() == [0.0, 0.5, 0.0, 2.0, 1.0, 0.0]


def test_seed_row_truncates_responses_and_tokens_to_the_shorter_side() -> None:
    assert seed_row([[-1.0, -1.0], [-2.0]], [[-2.0]]) == [1.0]


def test_row_and_column_sums_skip_unscored_cells() -> None:
    matrix = [[1.0, None], [2.0, 3.0]]
    assert row_sums(matrix) == [1.0, 5.0]
    assert column_sums(matrix, 2) == [3.0, 3.0]

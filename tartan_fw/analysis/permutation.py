"""The two-sided permutation test of the paper's significance claims (Dery et al., 2022, appendix A.2)."""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class PermutationResult:
    """``difference`` is mean(a) - mean(b); ``exact`` when every relabelling was enumerated."""

    difference: float
    p_value: float
    permutations: int
    exact: bool


def _difference_of_means(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def permutation_test(a: Sequence[float], b: Sequence[float], permutations: int = 10_000, seed: int = 0) -> PermutationResult:
    """Are two methods' per-seed scores different? Independent samples, difference of means.

    A permutation test assumes no distribution, which suits the 5-10 seeds per method of the
    paper (its reasons, appendix A.2). When there are at most ``permutations`` ways to split the
    pooled scores into the two groups, all are enumerated and the p-value is exact; otherwise
    ``permutations`` random splits are drawn (seeded, so the p-value is reproducible).
    """
    from scipy.stats import permutation_test as scipy_permutation_test

    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(first) < 2 or len(second) < 2:
        raise ValueError(f"each group needs at least two scores (seeds), got {len(first)} and {len(second)}")
    splits = comb(len(first) + len(second), len(first))
    result = scipy_permutation_test(
        (first, second), _difference_of_means, permutation_type="independent", vectorized=True,
        n_resamples=permutations, alternative="two-sided", random_state=np.random.default_rng(seed),
    )
    exact = splits <= permutations
    return PermutationResult(
        difference=float(result.statistic),
        p_value=float(result.pvalue),
        permutations=splits if exact else permutations,
        exact=exact,
    )

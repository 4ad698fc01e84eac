"""The permutation test against cases computed by hand."""

from __future__ import annotations

from itertools import combinations

import pytest

from tartan_fw.analysis.permutation import permutation_test


def enumerate_by_hand(a: list[float], b: list[float]) -> float:
    """Two-sided p: the share of relabellings whose |mean difference| reaches the observed one."""
    pooled = a + b
    observed = abs(sum(a) / len(a) - sum(b) / len(b))
    splits = list(combinations(range(len(pooled)), len(a)))
    extreme = 0
    for chosen in splits:
        first = [pooled[i] for i in chosen]
        second = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        if abs(sum(first) / len(first) - sum(second) / len(second)) >= observed - 1e-12:
            extreme += 1
    return extreme / len(splits)


def test_identical_groups_give_p_one() -> None:
    result = permutation_test([0.7, 0.7, 0.7], [0.7, 0.7, 0.7])
    assert result.p_value == 1.0 and result.difference == 0.0


def test_two_by_two_matches_the_hand_count() -> None:
    # Splits of {1,2,3,4} into pairs: mean differences -2, -1, 0, 0, 1, 2; |d| >= 2 in 2 of 6.
    result = permutation_test([1.0, 2.0], [3.0, 4.0])
    assert result.exact and result.permutations == 6
    assert result.p_value == pytest.approx(1 / 3)
    assert result.difference == pytest.approx(-2.0)


@pytest.mark.parametrize("a, b", [
    ([0.61, 0.64, 0.70], [0.66, 0.69, 0.72, 0.75]),
    ([0.80, 0.80, 0.82], [0.79, 0.80, 0.83]),  # ties across groups
    ([0.5, 0.55], [0.4, 0.6, 0.7]),
])
def test_exact_enumeration_matches_a_hand_enumeration(a: list[float], b: list[float]) -> None:
    result = permutation_test(a, b)
    assert result.exact
    assert result.p_value == pytest.approx(enumerate_by_hand(a, b))


def test_clearly_separated_groups_give_a_small_p() -> None:
    low = [0.70 + 0.001 * i for i in range(10)]
    high = [0.80 + 0.001 * i for i in range(10)]
    result = permutation_test(high, low, permutations=10_000)
    assert not result.exact and result.permutations == 10_000  # C(20, 10) = 184756 splits: sampled
    assert result.p_value < 0.001
    five = permutation_test(high[:5], low[:5])
    assert five.exact and five.p_value == pytest.approx(2 / 252)  # only the two extreme splits of C(10, 5)


def test_sampled_p_values_are_reproducible_by_seed() -> None:
    a = [0.70, 0.74, 0.69, 0.75, 0.72, 0.71, 0.73, 0.70, 0.76, 0.72]
    b = [0.71, 0.73, 0.74, 0.76, 0.72, 0.75, 0.73, 0.77, 0.74, 0.75]
    assert permutation_test(a, b, seed=3) == permutation_test(a, b, seed=3)
    assert 0 < permutation_test(a, b).p_value < 1


def test_a_group_of_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two scores"):
        permutation_test([0.4], [0.5, 0.6])

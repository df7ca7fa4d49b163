"""The one 95% interval every score in the course reports (lesson 05's table, lesson 06's curves,
RESULTS.md), checked against scipy's own t interval."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mtlviz.evaluation import _t95, mean_ci95


@pytest.mark.parametrize("n", [2, 3, 12, 600])
def test_mean_ci95_is_the_t_interval(n):
    """If this fails, the ± beside every accuracy in the lessons is too narrow or too wide (with
    3 episodes per point, 1.96 instead of t would understate lesson 06's intervals by 2.2x)."""
    values = np.random.default_rng(n).uniform(0.2, 0.9, n)
    mean, half = mean_ci95(values)
    low, high = stats.t.interval(0.95, n - 1, loc=values.mean(), scale=stats.sem(values))
    assert mean == pytest.approx(values.mean()) and half == pytest.approx((high - low) / 2)


def test_one_value_has_no_spread_and_no_values_is_refused():
    """One episode gives an interval of 0 (said in the docstring), never NaN; none is an error."""
    assert mean_ci95([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError, match="values must hold at least 1 score"):
        mean_ci95([])


@pytest.mark.parametrize("degrees_of_freedom", [1, 2, 3, 5, 10, 29, 100, 599, 999, 1000, 10**6])
def test_t_quantile_is_scipys_without_scipy(degrees_of_freedom):
    """If this fails, the t factor mtlviz computes itself (so that a kernel need not import scipy)
    has drifted from Student's t: every ± in the lessons would be off, worst for few episodes."""
    expected = stats.t.ppf(0.975, degrees_of_freedom)
    assert _t95(degrees_of_freedom) == pytest.approx(expected, rel=1e-10, abs=0)

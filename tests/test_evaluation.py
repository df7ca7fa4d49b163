"""The one 95% interval every score in the course reports (lesson 05's table, lesson 06's curves,
RESULTS.md), checked against scipy's own t interval."""
from __future__ import annotations

import numpy as np
import pytest
import torch
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


def _curves(n_tasks=50, n_steps=10, seed=0):
    """Decreasing query-loss curves (tasks, steps + 1), as adaptation gives on a healthy model."""
    generator = torch.Generator().manual_seed(seed)
    start = 1.0 + torch.rand(n_tasks, 1, generator=generator)
    return start * torch.linspace(1.0, 0.3, n_steps + 1)


def test_a_diverged_task_is_counted_and_left_out_of_the_means():
    """If this fails, `python -m mtlviz.pretrained.train_sinusoid` prints a mean of 2.3e10 (one task of
    600 blew up after 10 steps) as if it were the model's error, without saying why."""
    from mtlviz.evaluation import summarise_loss_curve
    curve = _curves()
    curve[7, 8:] = torch.tensor([3e4, 2e14, 1e13])
    curve[9, 10] = float("nan")
    summary = summarise_loss_curve(curve, (1, 5, 10))
    assert summary.diverged == (7, 9)
    kept = np.delete(curve.double().numpy(), [7, 9], axis=0)
    for step, mean, half_width in zip((1, 5, 10), summary.means, summary.half_widths):
        assert (mean, half_width) == pytest.approx(mean_ci95(kept[:, step]))
    assert summary.describe_divergence() == "2 of 50 tasks diverged (task 7, 9); the means are over the other 48"
    assert summarise_loss_curve(_curves(), (1, 5, 10)).describe_divergence() == ""


def test_a_spike_between_reported_steps_that_recovers_is_not_a_divergence():
    """If this fails, the shipped Reptile's sinusoid row loses a task whose loss jumped at step 4 and
    came back by step 5 (RESULTS' 1.613 at 10 steps would change for a task that did adapt)."""
    from mtlviz.evaluation import summarise_loss_curve
    curve = _curves()
    curve[3, 4] = 1e4
    assert summarise_loss_curve(curve, (1, 5, 10)).diverged == ()
    assert summarise_loss_curve(curve, (1, 4, 10)).diverged == (3,)


def test_a_summary_that_cannot_be_made_names_what_is_wrong():
    from mtlviz.evaluation import summarise_loss_curve
    curve = _curves(n_tasks=3)
    curve[:2, 10] = float("inf")
    with pytest.raises(ValueError, match="2 of 3 tasks diverged: fewer than 2 left"):
        summarise_loss_curve(curve, (10,))
    with pytest.raises(ValueError, match=r"steps must be .*\[0, 10\]"):
        summarise_loss_curve(_curves(), (11,))
    with pytest.raises(ValueError, match="curve must be a"):
        summarise_loss_curve(_curves()[0], (1,))



def test_train_sinusoid_ends_with_intervals_and_says_whether_the_paper_is_met(tmp_path, capsys):
    """If this fails, the regeneration command's closing evaluation (what a maintainer reads to decide
    whether new weights may ship) no longer shows its intervals or its verdict against Finn et al."""
    from mtlviz.pretrained import train_sinusoid
    assert train_sinusoid.main(["--steps", "3", "--joint-steps", "3", "--no-compile", "--out-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    maml = next(line for line in lines if line.strip().startswith("maml "))
    assert maml.count("±") == 3 and "(Finn et al. 2017: 0.67 / 0.38 / 0.35; above / above / above)" in maml
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sinusoid_joint.pt", "sinusoid_maml.pt"]


def test_train_sinusoid_trains_the_multi_step_loss_or_one_step_from_the_seed_asked_for(tmp_path, capsys):
    """If this fails, `train_sinusoid` (default: MAML++'s multi-step loss, two inner steps) or
    `train_sinusoid --one-step --seed S` (how RESULTS.md's five-seed table of the two recipes is
    reproduced) trains another recipe or seed than it says, or accepts a negative seed."""
    from mtlviz import JointTraining, MAML
    from mtlviz.pretrained import train_sinusoid
    for flags, expected in (([], (True, 2, 10, 3)), (["--one-step"], (False, 1, 25, 3))):
        out = tmp_path / ("one" if flags else "multi")
        assert train_sinusoid.main(["--steps", "3", "--joint-steps", "3", "--no-compile", "--seed", "3",
                                    "--out-dir", str(out), *flags]) == 0
        maml = MAML.load(out / "sinusoid_maml.pt")
        joint = JointTraining.load(out / "sinusoid_joint.pt")
        assert (maml.multi_step_loss, maml.n_inner_steps, maml.k_query, maml.random_state) == expected
        assert (joint.multi_step_loss, joint.n_inner_steps, joint.random_state) == (False, 1, 4)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        train_sinusoid.main(["--seed", "-1"])
    assert "--seed must be in [0, 2147483646]; got -1" in capsys.readouterr().err

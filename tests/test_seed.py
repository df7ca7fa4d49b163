"""Lesson 04's pieces: the seed snippet, the bug variants, outer_step and its exercise check."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mtlviz import MAML, SinusoidTasks, functional as Fn
from mtlviz.exercises import check_outer_loss
from mtlviz.pretrained import load_seed_variant
from mtlviz.meta.seed import SEED_SNIPPET, VARIANTS, variant_estimator, variant_tasks
from mtlviz.data.tasks import QueryIsSupport
from mtlviz.meta.maml import outer_step

SEED_COPY = Path(__file__).resolve().parents[1] / "seed" / "seed_zh.md"  # checked against the original in test_seed_terms


def test_snippet_is_the_seed_text_verbatim():
    """The lesson promises the seed's code verbatim; an edited copy would misquote the source."""
    assert SEED_SNIPPET in SEED_COPY.read_text(encoding="utf-8")
    assert "optimizer.apply_gradients" in SEED_SNIPPET and "updated_model(x)" in SEED_SNIPPET


def test_query_is_support_reuses_the_support_points():
    """The query-set bug must be reproduced exactly: scored on the very points adapted on."""
    batch = QueryIsSupport(SinusoidTasks()).sample_batch(3, 5, 10, random_state=0)
    assert torch.equal(batch.x_query, batch.x_support) and torch.equal(batch.y_query, batch.y_support)
    with pytest.raises(ValueError, match="tasks must be a task family"):
        QueryIsSupport(object())


def test_variants_cover_both_bugs_and_differ_only_there():
    """The dashboard's comparison is fair only if the variants share every other setting."""
    assert {(v.separate_query, v.meta_batch_size > 1) for v in VARIANTS.values()} == {
        (True, True), (True, False), (False, True), (False, False)}
    settings = [variant_estimator(name).get_params() for name in VARIANTS]
    for params in settings:
        params.pop("meta_batch_size")
    assert all(params == settings[0] for params in settings)
    assert isinstance(variant_tasks("no_query_set"), QueryIsSupport)
    assert isinstance(variant_tasks("corrected"), SinusoidTasks)
    with pytest.raises(ValueError, match="name must be one of"):
        variant_estimator("typo")


def test_outer_step_is_what_maml_fit_runs():
    """Lesson 04 shows outer_step as the estimator's own step: running it by hand must match fit."""
    tasks = SinusoidTasks()
    fitted = MAML(n_outer_steps=5, meta_batch_size=4, k_shot=5, k_query=6, random_state=3).fit(tasks)
    by_hand = MAML(n_outer_steps=0, meta_batch_size=4, k_shot=5, k_query=6, random_state=3)
    by_hand.fit(tasks)  # zero steps: same initial θ and generator state as the fitted one started with
    generator = torch.Generator().manual_seed(3)
    torch.randint(0, 2**31 - 1, (1,), generator=generator)  # the seed draw for θ's initialisation
    params = {name: p.detach().clone().requires_grad_(True) for name, p in by_hand.params_.items()}
    optimizer = torch.optim.Adam(params.values(), lr=1e-3)
    for _ in range(5):
        batch = tasks.sample_batch(4, 5, 6, generator)
        outer_step(by_hand.model_, params, optimizer, batch, inner_lr=0.01)
    for name in params:
        assert torch.allclose(params[name], fitted.params_[name], atol=1e-6)


def test_shipped_variants_show_the_bugs_cost():
    """The lesson's claim: the corrected recipe adapts best, and both bugs together worst."""
    batch = SinusoidTasks().sample_batch(100, 5, 50, random_state=7)
    after = {name: float(load_seed_variant(name).query_loss_curve(batch, inner_lr=0.01, n_inner_steps=10)[:, -1].mean())
             for name in VARIANTS}
    assert after["corrected"] < min(after["no_query_set"], after["one_task"])
    assert after["both_bugs"] > max(after["no_query_set"], after["corrected"])


def test_one_task_per_step_given_as_many_tasks_beats_the_corrected_recipe():
    """Lesson 04's reading of bug 3: the one-task recipe run for 25x the steps sees exactly as many
    tasks as the corrected one and then adapts better (so bug 3 is a variance/cost choice)."""
    from mtlviz.meta.seed import ALL_VARIANTS, EQUAL_TASKS

    corrected, equal = load_seed_variant("corrected"), load_seed_variant(EQUAL_TASKS)
    assert ALL_VARIANTS[EQUAL_TASKS].meta_batch_size == 1 and equal.meta_batch_size == 1
    assert equal.n_outer_steps * equal.meta_batch_size == corrected.n_outer_steps * corrected.meta_batch_size
    expected = variant_estimator(EQUAL_TASKS, n_outer_steps=corrected.n_outer_steps).get_params()
    assert {k: v for k, v in equal.get_params().items() if k != "model"} == {k: v for k, v in expected.items() if k != "model"}
    batch = SinusoidTasks().sample_batch(100, 5, 50, random_state=7)
    after = {name: float(load_seed_variant(name).query_loss_curve(batch, inner_lr=0.01, n_inner_steps=10)[:, -1].mean())
             for name in ("corrected", "one_task", EQUAL_TASKS)}
    assert after[EQUAL_TASKS] < after["corrected"] < after["one_task"]


def test_check_outer_loss_accepts_the_query_loss_and_explains_mistakes():
    """Students need to hear which mistake they made, the support-set one above all."""
    assert check_outer_loss(lambda m, a, xs, ys, xq, yq: Fn.task_loss(m, a, xq, yq))
    support = check_outer_loss(lambda m, a, xs, ys, xq, yq: Fn.task_loss(m, a, xs, ys))
    assert not support and "support loss" in str(support)
    own = check_outer_loss(lambda m, a, xs, ys, xq, yq: Fn.task_loss(m, dict(m.named_parameters()), xq, yq))
    assert not own and "adapted" in str(own)
    assert "return" in str(check_outer_loss(lambda *args: None))
    assert "raised ZeroDivisionError" in str(check_outer_loss(lambda *args: 1 / 0))


def test_missing_variant_weights_name_their_own_command(tmp_path):
    """A teacher with a missing file must be told the command that rebuilds lesson 04's weights."""
    from mtlviz import WeightsError

    with pytest.raises(WeightsError, match="train_seed_variants"):
        load_seed_variant("corrected", path=tmp_path / "nope.pt")

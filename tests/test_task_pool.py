"""Lesson 11 (how many tasks does meta-learning need?): the fixed task pool, the shipped models and
the shipped measurements, checked against the code that makes them (never against pasted numbers)."""
from __future__ import annotations

import json

import pytest
import torch

from mtlviz import MAML, JointTraining, SinusoidTasks, WeightsError
from mtlviz.data.tasks import TaskPool
from mtlviz.pretrained import train_task_pool as tp
from tests._cpu import on_artefact_cpu

pytestmark = pytest.mark.usefixtures("torch_one_thread")

REGENERATE = r"python -m mtlviz\.pretrained\.train_task_pool"


# -- the pool ------------------------------------------------------------------------------------

def test_pools_are_nested_and_inside_the_family():
    """If this fails, 'the T = 5 pool is the first 5 tasks of the T = 10 pool' (lesson 11) is false,
    and the curve over T mixes the effect of T with a different draw of tasks."""
    small, large = TaskPool(SinusoidTasks(), 5, 11), TaskPool(SinusoidTasks(), 1000, 11)
    assert torch.equal(small.amplitude, large.amplitude[:5]) and torch.equal(small.phase, large.phase[:5])
    assert float(large.amplitude.min()) >= 0.1 and float(large.amplitude.max()) <= 5.0
    assert float(large.phase.min()) >= 0.0 and float(large.phase.max()) <= torch.pi
    assert not torch.equal(TaskPool(SinusoidTasks(), 5, 12).amplitude, small.amplitude)


def test_batches_hold_only_the_pools_tasks_with_fresh_points():
    """If this fails, meta-training 'on T tasks' would see other tasks, or the same points every time
    (which would be memorising points, not meta-overfitting to tasks)."""
    pool = TaskPool(SinusoidTasks(), 3, 0)
    first = pool.sample_batch(200, 5, 7, random_state=1)
    second = pool.sample_batch(200, 5, 7, random_state=2)
    pairs = {(round(float(a), 5), round(float(p), 5)) for a, p in zip(first.amplitude, first.phase)}
    assert pairs == {(round(float(a), 5), round(float(p), 5)) for a, p in zip(pool.amplitude, pool.phase)}
    for batch in (first, second):  # y is the task's own curve at the drawn points
        torch.testing.assert_close(batch.y_support, SinusoidTasks.function(batch.x_support, batch.amplitude, batch.phase))
        torch.testing.assert_close(batch.y_query, SinusoidTasks.function(batch.x_query, batch.amplitude, batch.phase))
    assert not torch.equal(first.x_support, second.x_support)
    assert float(first.x_query.min()) >= -5.0 and float(first.x_query.max()) <= 5.0
    again = pool.sample_batch(200, 5, 7, random_state=1)
    assert torch.equal(again.x_support, first.x_support) and torch.equal(again.amplitude, first.amplitude)


@pytest.mark.parametrize("make, message", [
    (lambda: TaskPool(SinusoidTasks(), 0), r"n_tasks must be in \[1, 100000\]; got 0"),
    (lambda: TaskPool(SinusoidTasks(), 2.5), r"n_tasks must be"),
    (lambda: TaskPool("sinusoids", 5), r"tasks must be a SinusoidTasks or LineTasks family; got str"),
    (lambda: TaskPool(SinusoidTasks(), 5).sample_batch(0, 5, 5), r"n_tasks must be in \[1, 100000\]; got 0"),
    (lambda: TaskPool(SinusoidTasks(), 5).sample_batch(3, 0, 5), r"n_support must be in \[1, 100000\]; got 0"),
    (lambda: TaskPool(SinusoidTasks(), 5).batch_of(torch.tensor([0, 5]), 5, 5), r"indices must be in \[0, 4\]"),
], ids=["zero-tasks", "float-tasks", "not-a-family", "empty-batch", "no-support", "index-outside"])
def test_bad_pool_arguments_name_the_parameter(make, message):
    """If this fails, a student who builds a pool with a bad size or index gets a tensor error from deep
    inside torch instead of one line naming the parameter and its range."""
    with pytest.raises(ValueError, match=message):
        make()


def test_maml_trains_on_a_pool_through_its_own_loop():
    """If this fails, MAML on a pool is not MAML's training path with the pool's batches: the same
    seed on a one-task pool must give the θ of a loop fed that pool's batches by hand."""
    pool = TaskPool(SinusoidTasks(), 1, 0)
    settings = dict(n_outer_steps=3, meta_batch_size=4, k_shot=5, k_query=5, random_state=0)
    fitted = MAML(**settings).fit(pool)

    class Recorded:  # the same batches, drawn by the test
        def sample_batch(self, *args, **kwargs):
            return pool.sample_batch(*args, **kwargs)

    again = MAML(**settings).fit(Recorded())
    assert all(torch.equal(fitted.params_[n], again.params_[n]) for n in fitted.params_)
    other = MAML(**settings).fit(SinusoidTasks())
    assert not all(torch.equal(fitted.params_[n], other.params_[n]) for n in fitted.params_)


# -- the shipped models and measurements -----------------------------------------------------------

@pytest.fixture(scope="module")
def shipped_models():
    return tp.load_task_pool_models()


@pytest.fixture(scope="module")
def shipped_figure():
    return tp.load_task_pool_figure()


def test_shipped_files_are_small_and_complete(shipped_models, shipped_figure):
    """If this fails, the package ships bloated files or the lesson's slider has a position with no model."""
    assert tp.models_path().stat().st_size < 1_000_000 and tp.figure_path().stat().st_size < 1_000_000
    labels = [tp.pool_label(t) for t in tp.POOL_SIZES]
    assert shipped_figure["pool_sizes"] == labels
    assert set(shipped_models) == {(kind, label) for kind in tp.KINDS for label in labels}
    assert isinstance(shipped_models[("maml", "5")], MAML) and isinstance(shipped_models[("joint", "5")], JointTraining)


def test_shipped_measurements_are_what_the_shipped_models_give(shipped_models, shipped_figure):
    """If this fails, lesson 11's table is stale: the shipped measurements are not what the shipped
    models give (recomputed here for three pool sizes, on all 600 tasks)."""
    subset = {key: model for key, model in shipped_models.items() if key[1] in ("2", "100", "inf")}
    again = tp.measure(subset)
    for kind in tp.KINDS:
        for label in ("2", "100", "inf"):
            for where in ("pool", "fresh"):
                expected = shipped_figure["results"][kind][label][where]
                found = again["results"][kind][label][where]
                assert found["mean"] == pytest.approx(expected["mean"], rel=1e-4), (kind, label, where)
                assert found["ci95"] == pytest.approx(expected["ci95"], rel=1e-3), (kind, label, where)


def test_shipped_baseline_is_what_the_command_trains(shipped_models):
    """If this fails, task_pool.pt was not made by this code (or the recipe changed since): the
    pretrained baseline on the T = 2 pool is retrained here with the shipped recipe (eager, as the
    command trains it) and must give the shipped θ; on a CPU of another vector width than the
    file's (tests/_cpu.py) to that CPU's rounding: 2,000 steps on an AVX-512 Xeon moved a weight
    by 1.2e-5 (2026-12-04), where one step fewer moves one by 0.17."""
    retrained = tp.train_models(pool_sizes=(2,), maml_steps=1, joint_steps=tp.JOINT_STEPS, compile=False)
    shipped = shipped_models[("joint", "2")]
    tolerance = 1e-5 if on_artefact_cpu() else 1e-3
    for name, value in retrained[("joint", "2")].params_.items():
        torch.testing.assert_close(value.detach(), shipped.params_[name].detach(), rtol=10 * tolerance, atol=tolerance)


def test_reduced_regeneration_round_trips(tmp_path):
    """The command's code on a reduced configuration: save and load give back the same predictions,
    and the measurements have every pool size, kind, set and step."""
    models = tp.train_models(pool_sizes=(1, None), maml_steps=3, joint_steps=3, compile=False)
    tp.save_models(models, tmp_path / "task_pool.pt", maml_steps=3, joint_steps=3)
    state = torch.load(tmp_path / "task_pool.pt", weights_only=True)
    state["pool_sizes"] = ["1", "inf"]
    torch.save(state, tmp_path / "task_pool.pt")
    loaded = tp.load_task_pool_models(tmp_path / "task_pool.pt")
    x = torch.linspace(-5, 5, 9)[:, None]
    for key, model in models.items():
        assert torch.equal(loaded[key].predict(x), model.predict(x)), key
    figure = tp.measure(models, n_tasks=8)
    (tmp_path / "task_pool.json").write_text(json.dumps(figure))
    figure = tp.load_task_pool_figure(tmp_path / "task_pool.json")
    assert figure["pool_sizes"] == ["1", "inf"]
    assert len(figure["results"]["maml"]["inf"]["fresh"]["mean"]) == tp.EVAL_MAX_STEPS + 1


def test_the_lessons_story_holds_in_the_shipped_measurements(shipped_figure):
    """If this fails, lesson 11's reading of its own table is false: with one training task MAML
    fits that task (pool loss far below its fresh loss) and does worse on new tasks than with an
    unlimited supply, beyond both 95% intervals."""
    maml = shipped_figure["results"]["maml"]
    one, unlimited = maml["1"], maml["inf"]
    assert one["pool"]["mean"][10] + one["pool"]["ci95"][10] < one["fresh"]["mean"][10] - one["fresh"]["ci95"][10]
    assert (one["fresh"]["mean"][10] - one["fresh"]["ci95"][10]
            > unlimited["fresh"]["mean"][10] + unlimited["fresh"]["ci95"][10])


# -- bad files -------------------------------------------------------------------------------------

def test_missing_or_corrupt_files_name_the_command(tmp_path):
    """If this fails, a student with a damaged install sees a bare traceback instead of the fix."""
    with pytest.raises(WeightsError, match=REGENERATE):
        tp.load_task_pool_models(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match=REGENERATE):
        tp.load_task_pool_models(tmp_path / "bad.pt")
    torch.save({"kind": "task_pool", "pool_sizes": ["1"], "models": {"maml@1": {"params": {}}}}, tmp_path / "odd.pt")
    with pytest.raises(WeightsError, match=REGENERATE):
        tp.load_task_pool_models(tmp_path / "odd.pt")
    with pytest.raises(WeightsError, match=REGENERATE):
        tp.load_task_pool_figure(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{"pool_sizes": ["1"], "results": {}}')
    with pytest.raises(WeightsError, match=REGENERATE):
        tp.load_task_pool_figure(tmp_path / "bad.json")


# -- the lesson's rendered text ----------------------------------------------------------------------

def _synthetic_figure(fresh_at, pool_at, joint_fresh=3.0, diverged=0):
    """A figure with constant curves: MAML's fresh/own-task loss per label from the two dicts."""
    def stats(value, n_diverged=0):
        return {"mean": [value] * 11, "ci95": [0.01] * 11, "n_diverged": n_diverged}
    labels = list(fresh_at)
    results = {"maml": {label: {"pool": stats(pool_at[label]), "fresh": stats(fresh_at[label], diverged if label == "2" else 0)}
                        for label in labels},
               "joint": {label: {"pool": stats(joint_fresh), "fresh": stats(joint_fresh)} for label in labels}}
    return {"pool_sizes": labels, "n_tasks": 600, "inner_lr": 0.01, "results": results}


def test_findings_follow_the_numbers_they_read():
    """If this fails, lesson 11's rendered reading says something its own table does not show."""
    figure = _synthetic_figure({"1": 4.0, "2": 3.0, "5": 0.5, "inf": 0.5}, {"1": 1e-5, "2": 0.7, "5": 0.5, "inf": 0.5})
    text = tp.pool_findings(figure)
    assert "1.0e-05 *before* any adaptation" in text
    assert "at T = 1, 2 (new-task loss over own-task loss: 4.3× at T = 2); from T = 5 on" in text
    assert "the 95% interval of MAML trained on T = 5 tasks overlaps" in text and "that of every larger pool here" in text
    assert "beats the pretrained baseline trained on the same pool, beyond both intervals, at T = 5, ∞; not at T = 1, 2." in text
    worse = _synthetic_figure({"1": 4.0, "2": 3.0, "5": 2.0, "inf": 0.5}, {"1": 1e-5, "2": 3.0, "5": 2.0, "inf": 0.5})
    assert "no finite pool's 95% interval here overlaps" in tp.pool_findings(worse)


def test_table_has_every_pool_size_and_counts_diverged_tasks():
    """If this fails, the lesson's table drops a pool size or hides tasks left out of its means."""
    figure = _synthetic_figure({"1": 4.0, "2": 3.0, "inf": 0.5}, {"1": 0.1, "2": 0.7, "inf": 0.5}, diverged=3)
    table = tp.pool_table(figure)
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| T ")]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2", "∞"]
    assert "3 of the 600 new tasks for MAML at T = 2" in table
    assert "diverged" not in tp.pool_table(_synthetic_figure({"1": 4.0}, {"1": 0.1}))


def test_pool_targets_checker_accepts_the_pool_and_names_slips():
    """If this fails, lesson 11's exercise rejects the right answer or passes a wrong one silently."""
    from mtlviz.exercises import check_pool_targets

    right = check_pool_targets(lambda a, p, i, x: SinusoidTasks.function(x, a[i], p[i]))
    assert right.passed, right.message
    plus = check_pool_targets(lambda a, p, i, x: a[i].view(-1, 1, 1) * torch.sin(x + p[i].view(-1, 1, 1)))
    assert not plus.passed and "subtract the phase" in plus.message
    outside = check_pool_targets(lambda a, p, i, x: a[i].view(-1, 1, 1) * torch.sin(x) - p[i].view(-1, 1, 1))
    assert not outside.passed and "inside the sine" in outside.message
    first = check_pool_targets(lambda a, p, i, x: a[torch.arange(len(i)) % len(a)].view(-1, 1, 1)
                               * torch.sin(x - p[torch.arange(len(i)) % len(a)].view(-1, 1, 1)))
    assert not first.passed and "indices" in first.message
    assert not check_pool_targets(lambda a, p, i, x: None).passed

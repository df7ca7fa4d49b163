"""Unit tests of the scikit-learn-shaped estimators: MAML and the JointTraining baseline.

Expected values come from the estimators' own public pieces recombined independently (adapt +
predict vs score, mtlviz.functional vs the training records) or from properties (training
lowers the loss, same seed gives same θ), never from numbers pasted from an earlier run.
"""
from __future__ import annotations

import re
import warnings

import pytest
import torch
from torch.nn import functional as F

from mtlviz import MAML, MLP, JointTraining, SinusoidTasks, WeightsError, sinusoid_mlp
from mtlviz import functional as Fn
from mtlviz.pretrained import load_sinusoid, weights_path
from mtlviz.reference import loop_meta_gradient, loop_meta_loss

pytestmark = pytest.mark.usefixtures("torch_one_thread")

ESTIMATORS = [MAML, JointTraining]
REGENERATE = r"python -m mtlviz\.pretrained\.train_sinusoid"


def quick(cls, **overrides):
    """An estimator small enough to fit in a fraction of a second."""
    settings = dict(n_outer_steps=4, meta_batch_size=4, k_shot=5, k_query=5, random_state=0)
    settings.update(overrides)
    return cls(**settings)


@pytest.fixture(scope="module")
def tasks():
    return SinusoidTasks()


@pytest.fixture(scope="module")
def eval_batch(tasks):
    return tasks.sample_batch(6, 5, 20, random_state=99)


@pytest.fixture(scope="module")
def fitted_maml(tasks):
    """A briefly trained MAML that the tests below only read from."""
    return quick(MAML, n_outer_steps=20).fit(tasks)


def same_params(a, b):
    return set(a) == set(b) and all(torch.equal(a[name], b[name]) for name in a)


# -- fit ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_returns_self_with_learned_attributes(cls, tasks):
    """If this fails, `MAML(...).fit(tasks).predict(x)` chains break in the lessons."""
    estimator = quick(cls)
    assert not hasattr(estimator, "params_")  # __init__ does no work
    assert estimator.fit(tasks) is estimator
    assert len(estimator.history_) == estimator.n_outer_steps
    assert set(estimator.params_) == {name for name, _ in estimator.model_.named_parameters()}


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_iter_yields_one_record_per_outer_step(cls, tasks):
    """If this fails, the live training plot skips, repeats or mislabels outer steps."""
    estimator = quick(cls, n_outer_steps=5)
    records = list(estimator.fit_iter(tasks))
    assert len(records) == 5
    assert all(set(record) == {"step", "loss", "seconds"} for record in records)
    assert [record["step"] for record in records] == [1, 2, 3, 4, 5]
    assert [record["loss"] for record in records] == estimator.history_
    seconds = [record["seconds"] for record in records]
    assert seconds[0] >= 0 and seconds == sorted(seconds)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_random_state_makes_training_reproducible(cls, tasks):
    """If this fails, a lesson's results change on every run, or the seed is ignored."""
    first = quick(cls, random_state=3).fit(tasks)
    again = quick(cls, random_state=3).fit(tasks)
    other = quick(cls, random_state=4).fit(tasks)
    assert same_params(first.params_, again.params_)
    assert first.history_ == again.history_
    assert not any(torch.equal(first.params_[name], other.params_[name]) for name in first.params_)
    # the seed also sets the initial θ, not only the task sampling
    initial = quick(cls, random_state=3, n_outer_steps=0).fit(tasks)
    initial_other = quick(cls, random_state=4, n_outer_steps=0).fit(tasks)
    assert not any(torch.equal(initial.params_[n], initial_other.params_[n]) for n in initial.params_)


def test_maml_training_lowers_post_adaptation_query_loss(tasks):
    """If this fails, MAML's outer loop does not learn: adapted predictions are no better than at initialisation."""
    settings = dict(meta_batch_size=10, k_shot=5, random_state=0)
    untrained = MAML(n_outer_steps=0, **settings).fit(tasks)
    trained = MAML(n_outer_steps=300, **settings).fit(tasks)
    evaluation = tasks.sample_batch(200, 5, 20, random_state=123)
    untrained_loss = -untrained.score(evaluation)
    trained_loss = -trained.score(evaluation)
    assert trained_loss < 0.9 * untrained_loss


class RecordingTasks:
    """The sinusoid family, remembering each batch it hands out and the θ at that moment."""

    def __init__(self):
        self.tasks = SinusoidTasks()
        self.estimator = None
        self.batches, self.params = [], []

    def sample_batch(self, *args, **kwargs):
        self.params.append({name: p.detach().clone() for name, p in self.estimator.params_.items()})
        self.batches.append(self.tasks.sample_batch(*args, **kwargs))
        return self.batches[-1]


@pytest.mark.parametrize("cls, steps_in_objective", [(JointTraining, 0), (MAML, 2)])
def test_training_objective_inner_steps(cls, steps_in_objective):
    """If this fails, the joint-training baseline secretly adapts (or MAML does not) and the comparison is unfair."""
    estimator = quick(cls, inner_lr=0.05, n_inner_steps=2, n_outer_steps=3)
    recorder = RecordingTasks()
    recorder.estimator = estimator
    records = list(estimator.fit_iter(recorder))
    assert len(recorder.batches) == len(records) == 3
    for record, theta, batch in zip(records, recorder.params, recorder.batches):
        losses = {
            n: float(Fn.meta_loss(estimator.model_, theta, *batch.data, inner_lr=0.05, n_inner_steps=n))
            for n in (0, 2)
        }
        assert losses[0] != pytest.approx(losses[2], rel=1e-3)  # the two objectives are distinguishable
        assert record["loss"] == pytest.approx(losses[steps_in_objective], rel=1e-5)


def test_joint_training_ignores_inner_lr_while_training(tasks):
    """If this fails, the baseline's pretraining depends on α, which only its fine-tuning should use."""
    small = quick(JointTraining, inner_lr=0.001, n_inner_steps=1).fit(tasks)
    large = quick(JointTraining, inner_lr=0.1, n_inner_steps=3).fit(tasks)
    assert same_params(small.params_, large.params_)
    maml_small = quick(MAML, inner_lr=0.001, n_inner_steps=1).fit(tasks)
    maml_large = quick(MAML, inner_lr=0.1, n_inner_steps=3).fit(tasks)
    assert not same_params(maml_small.params_, maml_large.params_)


# -- using θ -----------------------------------------------------------------------------------

def test_predict_before_fit_raises_runtime_error():
    """If this fails, an unfitted estimator gives an AttributeError instead of 'call fit first'."""
    with pytest.raises(RuntimeError, match=r"not fitted yet: call fit\(tasks\) or load\(path\) first"):
        MAML().predict(torch.zeros(3, 1))


def test_adapt_leaves_learned_params_unchanged_and_predict_uses_adapted(fitted_maml, eval_batch):
    """If this fails, adapting to one task changes the meta-learned θ for every later task."""
    before = {name: p.detach().clone() for name, p in fitted_maml.params_.items()}
    x_support, y_support = eval_batch.x_support[0], eval_batch.y_support[0]
    adapted = fitted_maml.adapt(x_support, y_support, inner_lr=0.02, n_inner_steps=3)
    trajectory = fitted_maml.adapt(x_support, y_support, inner_lr=0.02, n_inner_steps=3, trajectory=True)
    assert same_params(fitted_maml.params_, before)
    assert len(trajectory) == 4 and same_params(trajectory[-1], adapted)
    x = torch.linspace(-5, 5, 7).unsqueeze(1)
    expected = Fn.forward(fitted_maml.model_, adapted, x)
    assert torch.equal(fitted_maml.predict(x, adapted), expected)
    assert not torch.equal(fitted_maml.predict(x), expected)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("n_inner_steps", [0, 2])
def test_score_is_minus_mean_query_mse_after_adaptation(cls, n_inner_steps, tasks, eval_batch):
    """If this fails, 'greater is better' scores rank the models wrongly."""
    estimator = quick(cls).fit(tasks)
    errors = []
    for i in range(eval_batch.x_support.shape[0]):
        adapted = estimator.adapt(eval_batch.x_support[i], eval_batch.y_support[i], inner_lr=0.02,
                                  n_inner_steps=n_inner_steps)
        errors.append(float(F.mse_loss(estimator.predict(eval_batch.x_query[i], adapted), eval_batch.y_query[i])))
    expected = -sum(errors) / len(errors)
    assert estimator.score(eval_batch, inner_lr=0.02, n_inner_steps=n_inner_steps) == pytest.approx(expected, rel=1e-5)


def test_trace_adaptation_without_divergence_is_consistent(fitted_maml, eval_batch):
    """If this fails, the dashboard's step-by-step curves disagree with predict() and adapt()."""
    task = [t[0] for t in eval_batch.data]
    trace = fitted_maml.trace_adaptation(*task, inner_lr=0.01, n_inner_steps=3)
    x_eval, y_eval = task[2], task[3]
    assert trace.predictions.shape == (4, x_eval.shape[0])
    assert trace.eval_losses.shape == trace.support_losses.shape == (4,)
    assert not trace.diverged and trace.stable_inner_lr is None and trace.divergence_message() == ""
    adapted = fitted_maml.adapt(task[0], task[1], inner_lr=0.01, n_inner_steps=3)
    torch.testing.assert_close(torch.from_numpy(trace.predictions[0]), fitted_maml.predict(x_eval)[:, 0])
    torch.testing.assert_close(torch.from_numpy(trace.predictions[-1]), fitted_maml.predict(x_eval, adapted)[:, 0])
    assert float(trace.eval_losses[0]) == pytest.approx(float(F.mse_loss(fitted_maml.predict(x_eval), y_eval)),
                                                        rel=1e-5)


@pytest.mark.parametrize("task_index", [0, 1, 2])
def test_trace_adaptation_reports_divergence_with_a_working_alpha(fitted_maml, eval_batch, task_index):
    """If this fails, a student who sets α too high sees NaNs or a suggested α that also blows up."""
    task = [t[task_index] for t in eval_batch.data]
    trace = fitted_maml.trace_adaptation(*task, inner_lr=1.0, n_inner_steps=10)
    assert trace.diverged
    match = re.fullmatch(r"diverged: try α below (\S+)", trace.divergence_message())
    assert match, trace.divergence_message()
    suggested = float(match.group(1))
    assert 0 < suggested < 1.0
    retry = fitted_maml.trace_adaptation(*task, inner_lr=suggested, n_inner_steps=10)
    assert not retry.diverged, retry.support_losses


def test_trace_adaptation_suggests_the_stability_limit_of_a_linear_model(tasks):
    """If this fails, the suggested α is not the 2/λ_max limit: slightly above it should still blow up."""
    # f(x) = w x + b with MSE is a quadratic: gradient descent diverges exactly when α > 2/λ_max.
    linear = MAML(MLP((1, 1)), n_outer_steps=0, random_state=0).fit(tasks)
    task = [t[0] for t in tasks.sample_batch(1, 10, 10, random_state=5).data]
    trace = linear.trace_adaptation(*task, inner_lr=1.0, n_inner_steps=10)
    assert trace.diverged
    suggested = float(re.fullmatch(r"diverged: try α below (\S+)", trace.divergence_message()).group(1))
    assert not linear.trace_adaptation(*task, inner_lr=suggested, n_inner_steps=10).diverged
    assert linear.trace_adaptation(*task, inner_lr=1.5 * suggested, n_inner_steps=10).diverged


# -- weights -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", ESTIMATORS)
def test_save_load_round_trip_gives_identical_predictions(cls, tasks, eval_batch, tmp_path):
    """If this fails, a saved model comes back different and the lessons show other curves than were trained."""
    estimator = quick(cls, model=MLP((1, 16, 16, 1)), inner_lr=0.02, n_inner_steps=2).fit(tasks)
    path = tmp_path / "weights.pt"
    estimator.save(path)
    loaded = cls.load(path)
    assert type(loaded) is cls
    x = torch.linspace(-5, 5, 50).unsqueeze(1)
    assert torch.equal(loaded.predict(x), estimator.predict(x))
    x_support, y_support = eval_batch.x_support[0], eval_batch.y_support[0]
    assert torch.equal(loaded.predict(x, loaded.adapt(x_support, y_support)),
                       estimator.predict(x, estimator.adapt(x_support, y_support)))
    expected = {k: v for k, v in estimator.get_params().items() if k != "model"}
    assert {k: v for k, v in loaded.get_params().items() if k != "model"} == expected
    assert loaded.history_ == pytest.approx(estimator.history_)


@pytest.fixture
def saved_joint(tasks, tmp_path):
    path = tmp_path / "joint.pt"
    quick(JointTraining, model=MLP((1, 8, 1)), n_outer_steps=1).fit(tasks).save(path)
    return path


def test_load_missing_file_raises_weights_error(tmp_path):
    """If this fails, a missing weights file gives a bare FileNotFoundError with no way forward."""
    path = tmp_path / "nowhere.pt"
    with pytest.raises(WeightsError, match=REGENERATE) as info:
        MAML.load(path)
    assert str(path) in str(info.value)


def test_load_corrupt_file_raises_weights_error(tmp_path):
    """If this fails, a truncated or garbled download shows a pickle traceback instead of the fix."""
    path = tmp_path / "corrupt.pt"
    path.write_bytes(bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0)).tolist()))
    with pytest.raises(WeightsError, match=REGENERATE):
        MAML.load(path)


def test_load_other_estimator_kind_raises_weights_error(saved_joint):
    """If this fails, loading the baseline's weights as MAML silently shows the wrong model."""
    with pytest.raises(WeightsError, match=REGENERATE):
        MAML.load(saved_joint)
    with pytest.raises(WeightsError, match=REGENERATE):
        load_sinusoid("maml", path=saved_joint)
    assert isinstance(load_sinusoid("joint", path=saved_joint), JointTraining)


def test_load_foreign_torch_file_raises_weights_error(tmp_path):
    """If this fails, a plain state_dict or other .pt file gives a KeyError instead of the fix."""
    foreign = [("state_dict.pt", MLP((1, 8, 1)).state_dict()), ("list.pt", [torch.zeros(3)]),
               ("partial.pt", {"kind": "maml", "sizes": [1, 8, 1]})]
    for name, content in foreign:
        path = tmp_path / name
        torch.save(content, path)
        with pytest.raises(WeightsError, match=REGENERATE):
            MAML.load(path)


def test_load_mismatched_network_raises_weights_error(saved_joint):
    """If this fails, weights that do not fit the stated network crash later inside the forward pass."""
    state = torch.load(saved_joint, weights_only=True)
    state["sizes"] = [1, 9, 1]
    torch.save(state, saved_joint)
    with pytest.raises(WeightsError, match=REGENERATE):
        JointTraining.load(saved_joint)


def test_save_load_round_trip_with_generator_random_state(tasks, tmp_path):
    """If this fails, an estimator seeded with a torch.Generator (documented as allowed) cannot be reloaded."""
    estimator = quick(MAML, model=MLP((1, 8, 1)), n_outer_steps=1,
                      random_state=torch.Generator().manual_seed(0)).fit(tasks)
    path = tmp_path / "generator.pt"
    estimator.save(path)
    x = torch.linspace(-5, 5, 5).unsqueeze(1)
    assert torch.equal(MAML.load(path).predict(x), estimator.predict(x))


def test_refitting_a_loaded_estimator_keeps_its_architecture(tasks, saved_joint):
    """If this fails, retraining a loaded model quietly switches to another network size."""
    loaded = JointTraining.load(saved_joint)
    sizes = loaded.model_.sizes
    loaded.fit(tasks)
    assert loaded.model_.sizes == sizes


@pytest.mark.parametrize("kind, cls", [("maml", MAML), ("joint", JointTraining)])
def test_shipped_weights_load_and_are_small(kind, cls):
    """If this fails, the lessons cannot open their pretrained model, or the package ships bloated weights."""
    path = weights_path(kind)
    estimator = load_sinusoid(kind)  # a deleted file fails here (WeightsError), it is not skipped
    assert type(estimator) is cls
    assert estimator.model_.sizes == (1, 40, 40, 1)
    assert path.stat().st_size < 64 * 1024
    assert torch.isfinite(estimator.predict(torch.linspace(-5, 5, 20).unsqueeze(1))).all()


def test_shipped_maml_improves_by_adapting(tasks):
    """If this fails, the shipped MAML does not do what lesson 3 shows: one inner step cuts the query loss."""
    estimator = load_sinusoid("maml")
    evaluation = tasks.sample_batch(100, 10, 20, random_state=7)
    assert estimator.score(evaluation) > estimator.score(evaluation, n_inner_steps=0)


@pytest.fixture
def fresh_dynamo():
    """Dynamo's caches emptied, as in a fresh process: each compile test traces its own graphs
    (one process compiling many configurations of one function meets Dynamo's recompile limit
    of 8, which a training run, one configuration, never does)."""
    import torch._dynamo
    torch._dynamo.reset()
    yield


@pytest.fixture
def compile_warnings_fail(fresh_dynamo):
    """A CompileWarning (compiling failed, the work went on eagerly) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Fn.CompileWarning)
        yield


@pytest.mark.usefixtures("compile_warnings_fail")
@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
@pytest.mark.parametrize("n_inner_steps, multi_step_loss", [(1, False), (5, False), (2, True)],
                         ids=["1-step", "5-steps", "2-steps-multi-step-loss"])
def test_compiled_meta_gradient_is_one_graph(first_order, n_inner_steps, multi_step_loss):
    """If this fails, MAML(compile=True) no longer compiles the meta-gradient as one graph
    (``fullgraph=True`` raised: a graph break), and training falls back to eager speed: the
    4-8x that compiling buys (RESULTS.md) is gone. The aot_eager backend traces the very graph
    Inductor compiles, without generating code, so the check stays quick."""
    model = sinusoid_mlp(0)
    params = Fn.get_params(model, requires_grad=True)
    batch = SinusoidTasks().sample_batch(5, 4, 6, random_state=0)
    settings = dict(inner_lr=0.01, n_inner_steps=n_inner_steps, first_order=first_order, multi_step_loss=multi_step_loss)
    value, grads = Fn.compile_meta_value_and_grad(backend="aot_eager")(model, params, *batch.data, **settings)
    expected = loop_meta_gradient(model, params, *batch.data, **settings)
    torch.testing.assert_close(value, loop_meta_loss(model, params, *batch.data, **settings).detach(),
                               rtol=1e-5, atol=1e-6)
    assert list(grads) == list(params)
    for name, got in grads.items():
        torch.testing.assert_close(got, expected[name], rtol=1e-4, atol=1e-6, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.usefixtures("compile_warnings_fail")
def test_compiled_maml_trains_like_eager_maml():
    """If this fails, MAML(compile=True) (Inductor's generated code, as train_sinusoid runs it)
    learns a different θ than eager MAML from the same seed, or rejects a bad α late."""
    settings = dict(n_outer_steps=3, meta_batch_size=5, k_shot=4, k_query=6, n_inner_steps=2, random_state=0)
    eager = MAML(**settings).fit(SinusoidTasks())
    compiled = MAML(compile=True, **settings).fit(SinusoidTasks())
    assert compiled.history_ == pytest.approx(eager.history_, rel=1e-5)
    for name, p in eager.params_.items():
        torch.testing.assert_close(compiled.params_[name], p, rtol=1e-4, atol=1e-6)
    model = sinusoid_mlp(0)
    batch = SinusoidTasks().sample_batch(5, 4, 6, random_state=0)
    with pytest.raises(ValueError, match=r"inner_lr must be in \[0, 10\]"):
        Fn.compile_meta_value_and_grad()(model, Fn.get_params(model), *batch.data, inner_lr=-1.0)


@pytest.mark.usefixtures("fresh_dynamo")
def test_compile_failure_warns_once_and_trains_eagerly():
    """If this fails, a student on a platform where torch.compile cannot work (no C++ compiler)
    sees a traceback from MAML(compile=True) instead of slower, identical training."""

    def failing_backend(graph, example_inputs):  # what a missing C++ toolchain looks like to torch.compile
        raise RuntimeError("no working C++ compiler found")

    model = sinusoid_mlp(0)
    params = Fn.get_params(model, requires_grad=True)
    batch = SinusoidTasks().sample_batch(5, 4, 6, random_state=0)
    value_and_grad = Fn.compile_meta_value_and_grad(backend=failing_backend)
    with pytest.warns(Fn.CompileWarning, match=r"no working C\+\+ compiler") as caught:
        results = [value_and_grad(model, params, *batch.data, inner_lr=0.01) for _ in range(2)]
    assert len([w for w in caught if issubclass(w.category, Fn.CompileWarning)]) == 1
    expected = loop_meta_gradient(model, params, *batch.data, inner_lr=0.01)
    for value, grads in results:  # the same numbers as the plain loop, computed eagerly
        torch.testing.assert_close(value, loop_meta_loss(model, params, *batch.data, inner_lr=0.01).detach(),
                                   rtol=1e-5, atol=1e-6)
        for name, got in grads.items():
            torch.testing.assert_close(got, expected[name], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("value", ["no", 1, None])
def test_compile_accepts_only_a_bool(value):
    """If this fails, MAML(compile="no") starts a compile of tens of seconds the student did not ask for."""
    with pytest.raises(ValueError, match=r"compile must be True or False; got"):
        quick(MAML, compile=value).fit(SinusoidTasks())


class NaNTasks:
    """The sinusoid family with a NaN in the first query target it hands out."""

    def __init__(self):
        self.tasks = SinusoidTasks()

    def sample_batch(self, *args, **kwargs):
        batch = self.tasks.sample_batch(*args, **kwargs)
        batch.y_query[0, 0, 0] = float("nan")
        return batch


@pytest.mark.parametrize("compile", [False, True], ids=["eager", "compiled"])
def test_fit_checks_its_first_batch(compile):
    """If this fails, a task family that hands out NaN trains θ into NaN without a word: fit
    skips the checks after its first batch (for speed), so the first one must be checked."""
    with pytest.raises(ValueError, match=r"y_query must be finite"):
        quick(MAML, compile=compile, n_outer_steps=2).fit(NaNTasks())


@pytest.mark.usefixtures("compile_warnings_fail")
def test_compiled_meta_gradient_follows_a_changed_alpha():
    """If this fails, the compiled meta-gradient keeps using the first α it saw (it caches α as a
    tensor), and a student who changes α trains with the old one."""
    model = sinusoid_mlp(0)
    params = Fn.get_params(model, requires_grad=True)
    batch = SinusoidTasks().sample_batch(5, 4, 6, random_state=0)
    value_and_grad = Fn.compile_meta_value_and_grad(backend="aot_eager")
    for inner_lr in (0.01, 0.3, 0.01):
        value, _ = value_and_grad(model, params, *batch.data, inner_lr=inner_lr, check_inputs=False)
        expected = loop_meta_loss(model, params, *batch.data, inner_lr=inner_lr).detach()
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)



@pytest.mark.parametrize("compile", [False, True], ids=["eager", "compiled"])
def test_maml_multi_step_loss_is_what_fit_trains(compile):
    """If this fails, MAML(multi_step_loss=True) (train_sinusoid's default recipe) stores the flag
    but trains another objective: its first logged meta-loss must be the multi-step one."""
    from mtlviz._validation import check_random_state, draw_seed

    settings = dict(n_outer_steps=1, meta_batch_size=5, k_shot=4, k_query=6, n_inner_steps=2, random_state=0)
    fitted = MAML(multi_step_loss=True, compile=compile, **settings).fit(SinusoidTasks())
    generator = check_random_state(0)  # θ₀ and the first batch, drawn as fit draws them
    model = MAML(**settings)._init_model(draw_seed(generator))
    batch = SinusoidTasks().sample_batch(5, 4, 6, generator)
    params = Fn.get_params(model)
    expected = {flag: float(Fn.meta_loss(model, params, *batch.data, inner_lr=0.01, n_inner_steps=2,
                                         multi_step_loss=flag)) for flag in (True, False)}
    assert fitted.history_[0] == pytest.approx(expected[True], rel=1e-5)
    assert expected[True] != pytest.approx(expected[False], rel=1e-3)  # the two objectives differ here

"""Meta-LSTM (Ravi & Larochelle 2017): the cell update, preprocessing, gradient flow, training, errors."""
from __future__ import annotations

import math

import pytest
import torch

from mtlviz import WeightsError
from mtlviz import functional as Fn
from mtlviz.nets import cross_entropy
from mtlviz.data.glyphs import DigitsTasks
from mtlviz.meta.metalstm import MetaLSTM, MetaLSTMCell, preprocess

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits():
    return DigitsTasks()


@pytest.fixture(scope="module")
def untrained(digits):
    return MetaLSTM(image_size=8, channels=8, n_outer_steps=0, random_state=0).fit(digits)


@pytest.fixture(scope="module")
def episode(digits):
    batch = digits.sample_episodes(1, 5, 1, 3, random_state=0)
    return batch.x_support[0], batch.y_support[0], batch.x_query[0], batch.y_query[0]


@pytest.mark.parametrize("n_steps, alpha", [(1, 0.5), (4, 0.1)])
def test_forget_one_and_input_alpha_is_exactly_plain_sgd(untrained, episode, n_steps, alpha):
    """The lesson's central claim: with f_t = 1 and i_t = α the LSTM cell update is gradient
    descent θ_t = θ_{t−1} − α∇. If this failed, the gates would not mean what the lesson says."""
    xs, ys, _, _ = episode
    lstm = untrained.adapt(xs, ys, n_inner_steps=n_steps, gates=(1.0, alpha))
    sgd = Fn.adapt(untrained.model_, untrained.initial_params_, xs, ys, inner_lr=alpha, n_inner_steps=n_steps,
                   first_order=True, loss_fn=cross_entropy)
    for name in sgd:
        assert torch.equal(lstm[name], sgd[name].detach()), name


def test_preprocessing_matches_its_formula():
    """Gradients span many orders of magnitude; the LSTM sees (log|x|/p, sign x) for |x| ≥ e^−p and
    (−1, e^p x) below. A wrong branch would feed the LSTM garbage for tiny gradients."""
    p = 10.0
    x = torch.tensor([3.0, -0.5, 1e-3, -2e-5, 0.0, math.exp(-p)])
    out = preprocess(x, p)
    assert out.shape == (6, 2)
    for value, (first, second) in zip(x.tolist(), out.tolist()):
        if abs(value) >= math.exp(-p):
            expected = (math.log(abs(value)) / p, math.copysign(1.0, value))
        else:
            expected = (-1.0, math.exp(p) * value)
        assert first == pytest.approx(expected[0], rel=1e-6)
        assert second == pytest.approx(expected[1], rel=1e-6, abs=1e-12)
    with pytest.raises(ValueError, match=r"p must be in \(0, 100\]"):
        preprocess(x, 0.0)


def test_gates_start_near_plain_gradient_descent():
    """The paper initialises f high and i low so early training behaves like small-step SGD; a
    wrong sign would make the first episodes erase or explode the parameters."""
    torch.manual_seed(0)
    cell = MetaLSTMCell(n_params=50)
    state = cell.initial_state()
    new, state, forget, input_gate = cell(state, torch.randn(50), torch.randn(50), torch.tensor(1.0))
    assert new.shape == (50,) and state.h.shape == (50, 20)
    assert float(forget.detach().min()) > 0.98 and float(input_gate.detach().max()) < 0.02


def test_meta_gradient_reaches_the_lstm_and_c0_but_not_through_learner_gradients(untrained, episode):
    """Meta-training must update every meta-parameter (LSTM weights, gate weights, c_0), while
    the learner's gradient enters as a constant (the paper drops second derivatives)."""
    xs, ys, xq, yq = episode
    cell = untrained._episode(xs, ys, n_steps=2)
    loss = cross_entropy(untrained._forward(cell, xq), yq)
    grads = torch.autograd.grad(loss, list(untrained.meta_.parameters()), allow_unused=True)
    names = [name for name, _ in untrained.meta_.named_parameters()]
    for name, g in zip(names, grads):
        assert g is not None and bool(torch.isfinite(g).all()), name
        assert float(g.abs().sum()) > 0, name
    gradient = torch.randn(untrained.meta_.n_params, requires_grad=True)
    out, *_ = untrained.meta_(untrained.meta_.initial_state(), untrained.meta_.c0, gradient, torch.tensor(1.0))
    assert out.grad_fn is not None
    assert torch.autograd.grad(out.sum(), gradient, allow_unused=True)[0] is None


def test_meta_training_learns_to_classify_new_episodes(digits):
    """If the meta-learner did not learn, accuracy after its updates would stay near the
    untrained optimizer's (a tiny step from a random start)."""
    trained = MetaLSTM(image_size=8, channels=8, n_outer_steps=120, outer_lr=3e-3, random_state=0).fit(digits)
    fresh = MetaLSTM(image_size=8, channels=8, n_outer_steps=0, random_state=0).fit(digits)
    batch = digits.sample_episodes(30, 5, 1, 5, random_state=7)
    assert len(trained.history_) == 120
    assert trained.score(batch) > fresh.score(batch) + 0.15


def test_trace_records_gates_per_layer_and_losses(untrained, episode):
    """The dashboard plots gates per step and layer and losses after 0…n steps; with fixed gates
    the recorded gates must be those constants."""
    trace = untrained.trace(*episode, n_inner_steps=3, gates=(1.0, 0.2))
    assert trace.layers == ("conv1", "conv2", "conv3", "conv4", "head")
    assert trace.input_gate.shape == (3, 5) and trace.forget_gate.shape == (3, 5)
    assert trace.input_gate == pytest.approx(0.2) and trace.forget_gate == pytest.approx(1.0)
    assert trace.support_loss.shape == (4,) and trace.query_accuracy.shape == (4,)
    assert trace.support_loss[-1] < trace.support_loss[0]  # gradient descent lowers the support loss
    curve = untrained.accuracy_curve(_one(episode))
    assert curve.shape == (1, untrained.n_inner_steps + 1)


def _one(episode):
    from mtlviz.data.glyphs import EpisodeBatch

    xs, ys, xq, yq = episode
    return EpisodeBatch(xs[None], ys[None], xq[None], yq[None], torch.arange(5)[None])


@pytest.mark.parametrize("name, value, message", [
    ("n_inner_steps", 0, r"n_inner_steps must be in \[1, 100\]"),
    ("hidden_size", 0, r"hidden_size must be in \[1, 256\]"),
    ("grad_clip", 0.0, r"grad_clip must be in \(0, 100\]"),
    ("k_shot", 0, r"k_shot must be in \[1, 19\]"),
])
def test_bad_hyperparameters_name_the_parameter(digits, name, value, message):
    """fit must refuse bad settings with the parameter's name and range."""
    with pytest.raises(ValueError, match=message):
        MetaLSTM(image_size=8, **{name: value}).fit(digits)


def test_bad_gates_and_unfitted_use_are_refused(untrained, episode):
    """A forget gate above 1 would grow the parameters every step; using an unfitted model must
    say to call fit first."""
    with pytest.raises(ValueError, match=r"forget gate must be in \[0, 1\]"):
        untrained.adapt(episode[0], episode[1], gates=(1.5, 0.1))
    with pytest.raises(RuntimeError, match="not fitted"):
        MetaLSTM().predict(episode[0])


def test_save_load_round_trip(tmp_path, untrained, episode):
    """Shipped weights must reproduce the same adaptation; a wrong file must name the command."""
    path = tmp_path / "metalstm.pt"
    untrained.save(path)
    loaded = MetaLSTM.load(path)
    batch = _one(episode)
    torch.testing.assert_close(loaded.accuracy_curve(batch), untrained.accuracy_curve(batch))
    with pytest.raises(WeightsError, match="--meta-lstm"):
        MetaLSTM.load(tmp_path / "missing.pt")

"""Domain adaptation: the rotated two moons, gradient reversal, CORAL, DANN's schedule and the
estimator. The maths is checked against independent computations (numpy covariances, an
explicit rotation matrix); the learning test checks that adaptation beats the source-only
baseline by a margin measured over many seeds (see the comment there)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mtlviz.transfer.domain import DomainAdaptationClassifier, coral_loss, dann_lambda, grad_reverse
from mtlviz.data.moons import two_moons

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def moons():
    """A small source sample and a 40°-rotated target sample."""
    x_source, y_source = two_moons(120, random_state=0)
    x_target, y_target = two_moons(120, rotation_deg=40, random_state=1)
    return x_source, y_source, x_target, y_target


# -- data -----------------------------------------------------------------------------------

def test_two_moons_is_centred_and_rotated_about_the_centre():
    """Otherwise the lesson's target domain would be shifted as well as rotated (a rotation
    about a corner of the plot moves the whole cloud), or the labels would not be 0/1 ints."""
    x, y = two_moons(400, random_state=5)
    assert x.shape == (400, 2) and x.dtype == torch.float32
    assert y.shape == (400,) and y.dtype == torch.int64 and set(y.tolist()) == {0, 1}
    assert x.mean(0).abs().max() < 0.15  # centred on the origin (noise moves the mean a little)
    angle = math.radians(90)
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    rotated, rotated_y = two_moons(400, rotation_deg=90, random_state=5)
    torch.testing.assert_close(rotated, x @ rotation.T, atol=1e-5, rtol=0)
    assert torch.equal(rotated_y, y)


# -- gradient reversal, CORAL, the λ schedule ----------------------------------------------

def test_grad_reverse_is_identity_forward_and_minus_lambda_backward():
    """Otherwise DANN's feature extractor would not work against the domain classifier: with
    a wrong sign it would make the domains *easier* to tell apart, and target accuracy drops."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(7, 3, generator=generator, requires_grad=True)
    upstream = torch.randn(7, 3, generator=generator)
    y = grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    (y * upstream).sum().backward()
    assert torch.equal(x.grad, -0.7 * upstream)


def test_coral_loss_matches_the_formula_computed_with_numpy():
    """Otherwise the CORAL term would not be ‖C_S − C_T‖²_F / (4d²) with unbiased covariances,
    and the trade-off the lesson quotes would weigh something else."""
    rng = np.random.default_rng(0)
    source = rng.normal(size=(50, 5))
    target = rng.normal(size=(70, 5)) @ rng.normal(size=(5, 5))
    d = source.shape[1]
    expected = ((np.cov(source, rowvar=False) - np.cov(target, rowvar=False)) ** 2).sum() / (4 * d * d)
    found = coral_loss(torch.from_numpy(source), torch.from_numpy(target))
    assert float(found) == pytest.approx(expected, rel=1e-10)


def test_coral_loss_is_zero_for_identical_features_and_ignores_the_means():
    """Otherwise CORAL would push apart features that already match, or would try to match the
    means, which the loss (second-order statistics only) is not meant to see."""
    features = torch.randn(40, 6, generator=torch.Generator().manual_seed(1))
    assert float(coral_loss(features, features.clone())) == 0.0
    assert float(coral_loss(features, features + 3.0)) < 1e-10


def test_dann_lambda_rises_from_zero_towards_one():
    """Otherwise DANN would start adversarial training at full strength (noisy early
    gradients wreck the features) or never reach it."""
    assert dann_lambda(0.0) == 0.0
    assert 0.9999 < dann_lambda(1.0) < 1.0
    values = [dann_lambda(p) for p in np.linspace(0, 1, 11)]
    assert all(a < b for a, b in zip(values, values[1:]))


# -- bad input --------------------------------------------------------------------------------

def _fit(**changes):
    x_source, y_source = two_moons(20, random_state=0)
    x_target, _ = two_moons(20, rotation_deg=30, random_state=1)
    args = {"x_source": x_source, "y_source": y_source, "x_target": x_target}
    params = changes.pop("params", {})
    args.update(changes)
    return DomainAdaptationClassifier(n_steps=1, **params).fit(**args)


@pytest.mark.parametrize("call, message", [
    (lambda: _fit(params={"method": "mmd"}), r"method must be one of 'source_only', 'coral', 'dann'; got 'mmd'"),
    (lambda: _fit(params={"hidden": 0}), r"hidden must be in \[1, 4096\]; got 0"),
    (lambda: _fit(params={"trade_off": -1}), r"trade_off must be in \[0, 1000\]; got -1"),
    (lambda: _fit(params={"lr": 0}), r"lr must be in \(0, 1\]; got 0"),
    (lambda: two_moons(10, rotation_deg=-1), r"rotation_deg must be in \[0, 180\]; got -1"),
    (lambda: two_moons(10, noise=float("nan")), r"noise must be a finite number"),
    (lambda: _fit(x_target=torch.zeros(20, 3)), r"x_target must have 2 features per row"),
    (lambda: _fit(y_source=torch.zeros(19, dtype=torch.int64)), r"y_source must hold one label per row of x_source"),
    (lambda: _fit(y_source=torch.full((20,), 0.5)), r"y_source must hold integer class labels"),
    (lambda: _fit(x_source=torch.full((20, 2), float("nan"))), r"x_source must be finite"),
    (lambda: coral_loss(torch.zeros(5, 2), torch.zeros(5, 3)), r"same number of columns"),
    (lambda: coral_loss(torch.zeros(1, 2), torch.zeros(5, 2)), r"source_features must hold at least 2 rows"),
    (lambda: grad_reverse(torch.zeros(2), -1.0), r"lambda_ must be in \[0, inf\]; got -1"),
    (lambda: dann_lambda(1.5), r"progress must be in \[0, 1\]; got 1.5"),
])
def test_bad_input_names_the_parameter(call, message):
    """Otherwise a student who mistypes an argument gets a tensor error deep in torch (or a
    silently wrong result) instead of a message naming what to change."""
    with pytest.raises(ValueError, match=message):
        call()


def test_predict_before_fit_says_what_to_call():
    """Otherwise an unfitted estimator fails with an AttributeError about ``network_``."""
    with pytest.raises(RuntimeError, match=r"not fitted yet: call fit\(x_source, y_source, x_target\)"):
        DomainAdaptationClassifier().predict(torch.zeros(3, 2))


# -- the estimator ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["source_only", "coral", "dann"])
def test_same_random_state_gives_the_same_model(moons, method):
    """Otherwise re-running a lesson cell would show a different decision boundary each time,
    and nbval would fail on the rounded accuracies."""
    x_source, y_source, x_target, _ = moons
    params = {"n_steps": 30, "batch_size": 64, "random_state": 3}
    first = DomainAdaptationClassifier(method, **params).fit(x_source, y_source, x_target)
    second = DomainAdaptationClassifier(method, **params).fit(x_source, y_source, x_target)
    assert torch.equal(first.predict_proba(x_target), second.predict_proba(x_target))
    assert first.history_ == second.history_


def test_fit_iter_records_and_estimator_contract(moons):
    """Otherwise the live-training widget would miss a curve (or plot DANN's λ wrongly), or the
    estimator would break the scikit-learn conventions the other lessons rely on."""
    x_source, y_source, x_target, _ = moons
    model = DomainAdaptationClassifier("dann", n_steps=20, random_state=0)
    records = list(model.fit_iter(x_source, y_source, x_target))
    assert [r["step"] for r in records] == list(range(1, 21))
    assert set(records[0]) == {"step", "loss", "label_loss", "adaptation_loss", "lambda", "seconds"}
    assert records[0]["lambda"] == 0.0 and records[-1]["lambda"] == pytest.approx(dann_lambda(19 / 20))
    assert len(model.history_) == 20
    assert DomainAdaptationClassifier(**model.get_params()).get_params() == model.get_params()
    coral = DomainAdaptationClassifier("coral", n_steps=2, random_state=0)
    assert coral.fit(x_source, y_source, x_target) is coral
    assert [r["lambda"] for r in coral.fit_iter(x_source, y_source, x_target)] == [300.0, 300.0]
    assert DomainAdaptationClassifier("bad", hidden=-5).get_params()["hidden"] == -5  # no checks in __init__


def test_takes_images_and_returns_features_for_the_projection_plot():
    """Otherwise the digits/glyphs lesson could not reuse the estimator on images, or the
    feature plot would get the wrong shape."""
    generator = torch.Generator().manual_seed(0)
    images_source = torch.rand(40, 1, 6, 6, generator=generator)
    labels = torch.arange(40) % 3
    images_target = torch.rand(30, 1, 6, 6, generator=generator) + 0.2
    model = DomainAdaptationClassifier("coral", n_features=8, n_steps=5, random_state=0)
    model.fit(images_source, labels, images_target)
    assert model.n_features_in_ == 36 and model.n_classes_ == 3
    assert model.features(images_target).shape == (30, 8)
    probabilities = model.predict_proba(images_target)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(30))
    assert model.predict(images_target).dtype == torch.int64
    assert 0.0 <= model.score(images_source, labels) <= 1.0


def test_adaptation_beats_source_only_on_rotated_moons():
    """Otherwise CORAL or DANN would not do what the lesson claims: use the unlabelled rotated
    points to classify them better than a model trained on the source alone.

    Margins measured on 15 seeds at 40° (300 points per domain, accuracy on the target points):
    source only 0.63, CORAL 0.80, DANN 0.86 on average; over five disjoint triples of seeds the
    mean gain was 0.08-0.27 for CORAL and 0.16-0.27 for DANN. The thresholds are half the
    smallest triple's gain.
    """
    gains = {"coral": [], "dann": []}
    for seed in range(3):
        x_source, y_source = two_moons(300, random_state=seed)
        x_target, y_target = two_moons(300, rotation_deg=40, random_state=seed + 10_000)
        baseline = DomainAdaptationClassifier("source_only", random_state=seed).fit(x_source, y_source, x_target)
        assert baseline.score(x_source, y_source) > 0.95  # it does learn the source task
        baseline_accuracy = baseline.score(x_target, y_target)
        for method in gains:
            model = DomainAdaptationClassifier(method, random_state=seed).fit(x_source, y_source, x_target)
            gains[method].append(model.score(x_target, y_target) - baseline_accuracy)
    assert np.mean(gains["dann"]) > 0.08, gains
    assert np.mean(gains["coral"]) > 0.04, gains

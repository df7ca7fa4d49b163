"""The one estimator contract (mtlviz._base.Estimator), checked on every estimator at once.

Each estimator is fitted for a step or two on tiny data: the tests read the contract
(hyperparameters from the ``__init__`` signature, one record shape, set_params, save/load of
every hyperparameter), not the quality of the fit.
"""
from __future__ import annotations

import inspect

import pytest
import torch

from mtlviz import MAML, JointTraining, SinusoidTasks, WeightsError
from mtlviz._base import Estimator
from mtlviz.transfer.domain import DomainAdaptationClassifier
from mtlviz.data.moons import two_moons
from mtlviz.meta.fewshot import MAMLClassifier
from mtlviz.transfer.finetune import FineTuneClassifier
from mtlviz.data.glyphs import DigitsTasks
from mtlviz.meta.metalstm import MetaLSTM

pytestmark = pytest.mark.usefixtures("torch_one_thread")

# (class, non-default hyperparameters for a tiny fit, what fit takes)
SINUSOID = "sinusoid"
DIGITS = "digits"
MOONS = "moons"
CASES = [
    (MAML, dict(n_outer_steps=2, meta_batch_size=3, k_shot=4, k_query=5, inner_lr=0.02, outer_lr_schedule="cosine",
                random_state=1), SINUSOID),
    (JointTraining, dict(n_outer_steps=2, meta_batch_size=3, k_shot=4, k_query=5, outer_lr=2e-3, random_state=1),
     SINUSOID),
    (MAMLClassifier, dict(image_size=8, channels=4, n_outer_steps=2, meta_batch_size=2, n_test_inner_steps=2,
                          inner_lr=0.3, random_state=1), DIGITS),
    (MetaLSTM, dict(image_size=8, channels=4, n_outer_steps=2, n_inner_steps=2, hidden_size=5, grad_clip=0.5,
                    random_state=1), DIGITS),
    (FineTuneClassifier, dict(image_size=8, channels=4, pretrain_epochs=1, batch_size=256, n_inner_steps=3, inner_lr=0.05,
                              random_state=1), DIGITS),
    (DomainAdaptationClassifier, dict(method="coral", hidden=6, n_steps=3, trade_off=5.0, random_state=1), MOONS),
]
IDS = [cls.__name__ for cls, *_ in CASES]


def fit_data(kind):
    if kind == SINUSOID:
        return (SinusoidTasks(),)
    if kind == DIGITS:
        return (DigitsTasks(),)
    x_source, y_source = two_moons(40, random_state=0)
    x_target, _ = two_moons(40, rotation_deg=30, random_state=1)
    return x_source, y_source, x_target


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    cls, settings, kind = request.param
    estimator = cls(**settings)
    records = list(estimator.fit_iter(*fit_data(kind)))
    return cls, settings, estimator, records


def test_every_estimator_derives_from_the_one_base(case):
    """If this fails, an estimator has its own copy of the training loop, get_params and
    save/load again, and the next hyperparameter added to it can be silently dropped."""
    cls, *_ = case
    assert issubclass(cls, Estimator)
    for name in ("get_params", "set_params", "fit", "fit_iter", "save", "load", "_check_fitted", "__repr__"):
        assert name not in vars(cls) or name in ("fit", "fit_iter"), f"{cls.__name__} redefines {name}"


def test_hyperparameters_are_the_init_signature(case):
    """If this fails, get_params (and so save/load and repr) misses or invents a hyperparameter."""
    cls, settings, estimator, _ = case
    signature = [n for n in inspect.signature(cls.__init__).parameters if n != "self"]
    params = estimator.get_params()
    assert list(params) == signature
    for name, value in settings.items():
        assert params[name] == value
        assert f"{name}={value!r}" in repr(estimator)


def test_fit_iter_yields_one_record_shape_and_keeps_the_history(case):
    """If this fails, a widget reading record["loss"] breaks on one estimator, or history_ and
    the records disagree about what training did."""
    _, _, estimator, records = case
    assert records, "the tiny fit ran no step"
    assert [r["step"] for r in records] == list(range(1, len(records) + 1))
    for record in records:
        assert {"step", "loss", "seconds"} <= set(record)
    assert [r["loss"] for r in records] == estimator.history_
    seconds = [r["seconds"] for r in records]
    assert seconds == sorted(seconds) and seconds[0] >= 0


def test_set_params_rejects_unknown_names_and_bad_values_and_changes_nothing(case):
    """If this fails, a typo in a hyperparameter name is silently ignored, or a rejected value
    is half-applied and the estimator is left in a state no one asked for."""
    cls, _, estimator, _ = case
    before = estimator.get_params()
    with pytest.raises(ValueError, match=r"has no hyperparameter 'not_a_setting'; it has "):
        estimator.set_params(not_a_setting=1)
    name = "random_state"
    with pytest.raises(ValueError):
        # a bad value for the first numeric hyperparameter, together with a good random_state
        numeric = next(n for n, v in before.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                       and n != name)
        estimator.set_params(**{name: 7, numeric: float("nan")})
    assert estimator.get_params() == before
    assert estimator.set_params(random_state=7) is estimator and estimator.random_state == 7
    estimator.set_params(random_state=before["random_state"])


def test_save_load_keeps_every_hyperparameter_and_the_learned_state(case, tmp_path):
    """If this fails, a hyperparameter is lost between save and load (the shipped weights would
    come back with defaults), or the loaded model predicts differently from the saved one."""
    cls, _, estimator, _ = case
    path = tmp_path / "model.pt"
    estimator.save(path)
    loaded = cls.load(path)
    stored = {k: v for k, v in estimator.get_params().items() if k not in cls._not_stored}
    assert {k: v for k, v in loaded.get_params().items() if k not in cls._not_stored} == stored
    assert loaded.history_ == pytest.approx(estimator.history_)
    state, restored = estimator._state(), loaded._state()
    flat = lambda d: {k: v for k, v in d.items() if isinstance(v, torch.Tensor)}  # noqa: E731
    nested = {**flat(state), **flat(state.get("weights", {}))}
    again = {**flat(restored), **flat(restored.get("weights", {}))}
    assert nested.keys() == again.keys() and nested
    for name, tensor in nested.items():
        assert torch.equal(tensor, again[name]), name


def test_an_unfitted_estimator_says_how_to_fit_it(case):
    """If this fails, a student calling save before fit sees an AttributeError from inside."""
    cls, settings, *_ = case
    with pytest.raises(RuntimeError, match=r"is not fitted yet: call fit\("):
        cls(**settings).save("unused.pt")


def test_a_weights_file_with_an_unknown_hyperparameter_is_a_weights_error(tmp_path):
    """If this fails, a file written by another mtlviz version crashes load with a TypeError
    instead of saying which command regenerates it."""
    estimator = MAML(n_outer_steps=1, meta_batch_size=2, k_shot=3, k_query=3, random_state=0).fit(SinusoidTasks())
    path = tmp_path / "maml.pt"
    estimator.save(path)
    state = torch.load(path, weights_only=True)
    state["hyperparameters"]["removed_setting"] = 3
    torch.save(state, path)
    with pytest.raises(WeightsError, match=r"unknown hyperparameters \['removed_setting'\].*train_sinusoid"):
        MAML.load(path)


def test_set_params_on_a_fitted_fine_tuner_keeps_the_backbone_and_resizes_the_head():
    """If this fails, load_glyph_finetune(n_way=3) (lesson 06) keeps a 5-way head or retrains."""
    estimator = FineTuneClassifier(image_size=8, channels=4, pretrain_epochs=1, batch_size=256,
                                   random_state=0).fit(DigitsTasks())
    backbone = dict(estimator.backbone_)
    estimator.set_params(n_way=3, strategy="feature_extraction")
    assert estimator.head_["head.weight"].shape[0] == 3
    assert all(torch.equal(backbone[k], v) for k, v in estimator.backbone_.items())
    with pytest.raises(ValueError, match=r"channels cannot change on a fitted FineTuneClassifier"):
        estimator.set_params(channels=8)
    assert estimator.channels == 4 and estimator.n_way == 3


def test_mean_training_loss_reads_the_same_steps_before_and_after_saving(tmp_path):
    """If this fails, lesson 09's line 'mean training loss over the first 100 outer steps' reads other
    steps from a shipped (chunk-averaged) weight file than training logged, or accepts a nonsense count."""
    estimator = MAML(n_outer_steps=1200, meta_batch_size=2, k_shot=2, k_query=2, random_state=0)
    estimator.fit(SinusoidTasks())
    fresh = estimator.mean_training_loss(first_steps=100)
    assert fresh == pytest.approx(sum(estimator.history_[:100]) / 100)
    estimator.save(tmp_path / "m.pt")
    loaded = MAML.load(tmp_path / "m.pt")
    assert len(loaded.history_) == 400  # 1,200 steps kept as 400 means of 3
    assert loaded.mean_training_loss(first_steps=99) == pytest.approx(sum(estimator.history_[:99]) / 99, rel=1e-5)
    for bad in (0, 1201, 2.5):
        with pytest.raises(ValueError, match="first_steps"):
            loaded.mean_training_loss(first_steps=bad)
    with pytest.raises(Exception, match="fit"):
        MAML().mean_training_loss(first_steps=1)
    # stopped early (a live dashboard stops iterating): 700 of 2,000 steps, then saved and loaded
    partial = MAML(n_outer_steps=2000, meta_batch_size=2, k_shot=2, k_query=2, random_state=0)
    for record in partial.fit_iter(SinusoidTasks()):
        if record["step"] == 700:
            break
    raw = sum(partial.history_[:100]) / 100
    assert partial.mean_training_loss(first_steps=100) == pytest.approx(raw)
    partial.save(tmp_path / "partial.pt")
    assert MAML.load(tmp_path / "partial.pt").mean_training_loss(first_steps=100) == pytest.approx(raw, rel=1e-5)

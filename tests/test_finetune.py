"""Transfer by pretraining: feature extraction freezes the backbone, fine-tuning moves it."""
from __future__ import annotations

import pytest
import torch

from mtlviz.transfer.finetune import FineTuneClassifier
from mtlviz.data.glyphs import DigitsTasks

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits():
    return DigitsTasks()


@pytest.fixture(scope="module")
def pretrained(digits):
    return FineTuneClassifier(image_size=8, channels=8, pretrain_epochs=2, batch_size=64, random_state=0).fit(digits)


@pytest.fixture(scope="module")
def episode(digits):
    batch = digits.sample_episodes(1, 5, 2, 3, random_state=0)
    return batch


def _with(pretrained, **changes):
    clone = FineTuneClassifier(**{**pretrained.get_params(), **changes})
    clone._set_backbone(pretrained.backbone_)
    return clone


def test_feature_extraction_leaves_the_backbone_bit_identical(pretrained, episode):
    """Feature extraction promises frozen pretrained layers: if any of them moved, the lesson's
    comparison with fine-tuning would be meaningless."""
    extractor = _with(pretrained, strategy="feature_extraction")
    adapted = extractor.adapt(episode.x_support[0], episode.y_support[0], n_inner_steps=10)
    for name, value in pretrained.backbone_.items():
        assert torch.equal(adapted[name], value), name
    assert not torch.equal(adapted["head.weight"], extractor.head_["head.weight"])


def test_fine_tuning_changes_the_backbone_and_top_n_only_the_top_blocks(pretrained, episode):
    """Fine-tuning must move the pretrained layers; with n_trainable_blocks=1 only block 4 (and
    the head) may move, the lower blocks stay as pretrained."""
    tuned = _with(pretrained, strategy="fine_tune").adapt(episode.x_support[0], episode.y_support[0], n_inner_steps=10)
    assert not torch.equal(tuned["convs.0.weight"], pretrained.backbone_["convs.0.weight"])
    top = _with(pretrained, strategy="fine_tune", n_trainable_blocks=1)
    assert top.trainable_names() == ["convs.3.weight", "convs.3.bias", "norm_weight.3", "norm_bias.3",
                                     "head.weight", "head.bias"]
    adapted = top.adapt(episode.x_support[0], episode.y_support[0], n_inner_steps=10)
    for name in ["convs.0.weight", "convs.2.bias", "norm_weight.2"]:
        assert torch.equal(adapted[name], pretrained.backbone_[name]), name
    assert not torch.equal(adapted["convs.3.weight"], pretrained.backbone_["convs.3.weight"])


def test_pretraining_helps_compared_with_training_from_scratch(digits, pretrained):
    """Transfer is the point: on new episodes, a pretrained backbone must beat the same network
    trained from a random start with the same steps."""
    batch = digits.sample_episodes(30, 5, 1, 5, random_state=3)
    scratch = FineTuneClassifier(strategy="scratch", image_size=8, channels=8, random_state=0).fit(digits)
    assert pretrained.history_[-1] < pretrained.history_[0]
    assert pretrained.score(batch) > scratch.score(batch) + 0.1
    curve = pretrained.accuracy_curve(batch, n_inner_steps=4, every=2)
    assert curve.shape == (30, 3)
    assert float(curve[:, 0].mean()) < 0.35  # a zero head guesses: chance is 0.2


@pytest.mark.parametrize("name, value, message", [
    ("strategy", "freeze", r"strategy must be one of \['fine_tune', 'feature_extraction', 'scratch'\]"),
    ("n_trainable_blocks", 5, r"n_trainable_blocks must be in \[0, 4\]"),
    ("inner_lr", 0.0, r"inner_lr must be in \(0, 10\]; got 0"),
    ("n_inner_steps", -1, r"n_inner_steps must be in \[0, 1000\]; got -1"),
])
def test_bad_settings_name_the_parameter(digits, name, value, message):
    """A typo in the strategy or an impossible number of blocks must be named, with the choices."""
    with pytest.raises(ValueError, match=message):
        FineTuneClassifier(image_size=8, **{name: value}).fit(digits)


def test_save_load_round_trip(tmp_path, pretrained, episode):
    """The shipped pretrained backbone must come back bit for bit."""
    pretrained.save(tmp_path / "ft.pt")
    loaded = FineTuneClassifier.load(tmp_path / "ft.pt")
    for name, value in pretrained.backbone_.items():
        assert torch.equal(loaded.backbone_[name], value)
    torch.testing.assert_close(loaded.accuracy_curve(episode), pretrained.accuracy_curve(episode))


def test_inner_step_names_match_the_meta_learners(pretrained, episode):
    """FineTuneClassifier's per-episode step and count carry the names MAMLClassifier gives its
    test-time adaptation (a lesson swapping one for the other must not need new keywords); if this
    fails, ``lr``/``n_steps`` crept back or a call rejects the shared names."""
    from mtlviz.meta.fewshot import MAMLClassifier
    names = set(FineTuneClassifier._get_param_names())
    assert {"inner_lr", "n_inner_steps"} <= names
    assert not {"lr", "n_steps"} & names
    assert {"inner_lr", "n_inner_steps"} <= set(MAMLClassifier._get_param_names())
    with pytest.raises(TypeError):
        pretrained.adapt(episode.x_support[0], episode.y_support[0], n_steps=1)
    with pytest.raises(ValueError, match=r"n_inner_steps must be in \[0, 1000\]; got 1001"):
        pretrained.accuracy_curve(episode, n_inner_steps=1001)


def test_a_file_saved_with_the_old_names_loads_with_the_new(tmp_path, pretrained, episode):
    """Weight files written before the rename (the shipped glyph_finetune.pt among them) store
    ``lr``/``n_steps``: if this fails, they no longer load, or load with the defaults instead of
    their own values."""
    old = _with(pretrained, inner_lr=0.03, n_inner_steps=7)
    old.save(tmp_path / "new.pt")
    state = torch.load(tmp_path / "new.pt", weights_only=True)
    hyper = state["hyperparameters"]
    hyper["lr"], hyper["n_steps"] = hyper.pop("inner_lr"), hyper.pop("n_inner_steps")
    torch.save(state, tmp_path / "old.pt")
    loaded = FineTuneClassifier.load(tmp_path / "old.pt")
    assert (loaded.inner_lr, loaded.n_inner_steps) == (0.03, 7)
    torch.testing.assert_close(loaded.accuracy_curve(episode), old.accuracy_curve(episode))

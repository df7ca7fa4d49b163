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
    adapted = extractor.adapt(episode.x_support[0], episode.y_support[0], n_steps=10)
    for name, value in pretrained.backbone_.items():
        assert torch.equal(adapted[name], value), name
    assert not torch.equal(adapted["head.weight"], extractor.head_["head.weight"])


def test_fine_tuning_changes_the_backbone_and_top_n_only_the_top_blocks(pretrained, episode):
    """Fine-tuning must move the pretrained layers; with n_trainable_blocks=1 only block 4 (and
    the head) may move, the lower blocks stay as pretrained."""
    tuned = _with(pretrained, strategy="fine_tune").adapt(episode.x_support[0], episode.y_support[0], n_steps=10)
    assert not torch.equal(tuned["convs.0.weight"], pretrained.backbone_["convs.0.weight"])
    top = _with(pretrained, strategy="fine_tune", n_trainable_blocks=1)
    assert top.trainable_names() == ["convs.3.weight", "convs.3.bias", "norm_weight.3", "norm_bias.3",
                                     "head.weight", "head.bias"]
    adapted = top.adapt(episode.x_support[0], episode.y_support[0], n_steps=10)
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
    curve = pretrained.accuracy_curve(batch, n_steps=4, every=2)
    assert curve.shape == (30, 3)
    assert float(curve[:, 0].mean()) < 0.35  # a zero head guesses: chance is 0.2


@pytest.mark.parametrize("name, value, message", [
    ("strategy", "freeze", r"strategy must be one of \['fine_tune', 'feature_extraction', 'scratch'\]"),
    ("n_trainable_blocks", 5, r"n_trainable_blocks must be in \[0, 4\]"),
    ("lr", 0.0, r"lr must be in \(0, 10\]"),
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

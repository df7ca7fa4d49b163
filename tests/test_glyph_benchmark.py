"""The rows of benchmarks/glyph_fewshot_eval.py (mtlviz.pretrained.glyph_benchmark), which lesson 05's
shipped table is computed by.

If a test here fails, the benchmark's faster scorers no longer give the numbers of the estimators
they stand for (a lesson's table would then disagree with a dashboard on the same episode), or a
missing weights file stops the whole benchmark instead of its own rows.
"""
from __future__ import annotations

import pytest
import torch

from mtlviz import WeightsError
from mtlviz.data.glyphs import GlyphTasks
from mtlviz.evaluation import sgd_accuracy_curve
from mtlviz.pretrained import glyph_benchmark, load_glyph_finetune, load_glyph_metalstm

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def episodes():
    return GlyphTasks("evaluation", image_size=20).sample_episodes(4, 5, 1, 15, random_state=3)


def test_sgd_from_start_scores_the_last_step_of_the_sgd_curve(episodes):
    meta_lstm = load_glyph_metalstm(1)
    expected = sgd_accuracy_curve(meta_lstm.model_, meta_lstm.initial_params_, episodes, inner_lr=0.1,
                                  n_steps=meta_lstm.n_inner_steps)[:, -1]
    assert torch.equal(glyph_benchmark.SGDFromStart(meta_lstm, 0.1).episode_accuracy(episodes), expected)


def test_sgd_from_start_refuses_a_diverging_rate(episodes):
    from mtlviz import DivergenceError

    with pytest.raises(DivergenceError, match="lr = 1e"):
        glyph_benchmark.SGDFromStart(load_glyph_metalstm(1), 1e9).episode_accuracy(episodes)


def test_fine_tuning_rows_score_what_the_estimator_scores(episodes):
    estimator = load_glyph_finetune(strategy="feature_extraction", k_shot=1, inner_lr=0.03, n_inner_steps=5)
    faster = glyph_benchmark._AfterLastStep(estimator).episode_accuracy(episodes)
    assert torch.equal(faster, estimator.episode_accuracy(episodes))


def test_a_missing_weights_file_skips_only_its_rows(monkeypatch):
    def missing(*args, **kwargs):
        raise WeightsError("protonet_1shot.pt is missing. Regenerate it with: python -m mtlviz.pretrained.train_protonet")

    monkeypatch.setattr(glyph_benchmark, "load_protonet", missing)
    monkeypatch.setattr(glyph_benchmark, "meta_lstm_rows", lambda *a: {})   # keep the test fast: no rate search
    monkeypatch.setattr(glyph_benchmark, "finetune_rows", lambda *a: {})
    rows, skipped = glyph_benchmark.benchmark_rows(1)
    assert "maml" in rows and "pixel_nn" in rows and "anil_3" in rows and "protonet" not in rows
    assert len(skipped) == 1 and "ProtoNet" in skipped[0] and "train_protonet" in skipped[0]

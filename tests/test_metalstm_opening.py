"""Lesson 05's dashboard opens on a shipped comparison (issue 19) that must equal what its code computes.

Adapting Meta-LSTM, SGD and MAML to the opening episode cost every kernel that opened the lesson
about 0.4 CPU-s; the result ships as the figure ``metalstm_episode``
(``python -m mtlviz.pretrained.figures metalstm_episode``). If these tests fail, a student opening
the lesson sees curves, gates and predictions that the shipped models no longer produce, or the
dashboard adapts the learners at start again.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from mtlviz.data.glyphs import GlyphTasks
from mtlviz.meta import metalstm
from mtlviz.meta.metalstm import comparison_from_dict, comparison_to_dict
from mtlviz.pretrained import load_glyph_maml, load_glyph_metalstm
from mtlviz.pretrained.figures import load_figure, metalstm_episode

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SCORE_FIELDS = ("support_loss", "query_loss", "query_accuracy", "query_predictions")


def assert_same_comparison(shipped, computed):
    assert shipped.meta_lstm.layers == computed.meta_lstm.layers
    for name in ("input_gate", "forget_gate"):
        np.testing.assert_allclose(getattr(shipped.meta_lstm, name), getattr(computed.meta_lstm, name), rtol=1e-5)
    for learner in ("sgd", "maml"):
        assert getattr(shipped, f"{learner}_lr") == getattr(computed, f"{learner}_lr")
    for shipped_scores, scores in ((shipped.meta_lstm.scores, computed.meta_lstm.scores), (shipped.sgd, computed.sgd),
                                   (shipped.maml, computed.maml)):
        for name in SCORE_FIELDS[:3]:
            np.testing.assert_allclose(getattr(shipped_scores, name), getattr(scores, name), rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(shipped_scores.query_predictions, scores.query_predictions)


def test_shipped_opening_episode_is_what_compare_on_episode_computes():
    """The shipped figure against a fresh run of the code that makes it (2 s)."""
    shipped, computed = load_figure("metalstm_episode"), metalstm_episode()
    assert {k: shipped[k] for k in ("k_shot", "random_state", "n_query")} == \
        {k: computed[k] for k in ("k_shot", "random_state", "n_query")}
    assert_same_comparison(comparison_from_dict(shipped["comparison"]), comparison_from_dict(computed["comparison"]))


def test_comparison_round_trips_through_json_lists():
    value = load_figure("metalstm_episode")["comparison"]
    again = comparison_to_dict(comparison_from_dict(json.loads(json.dumps(value))))
    assert again == value


@pytest.mark.parametrize("damage", ["drop sgd", "short maml", "gates not per layer"])
def test_a_damaged_comparison_is_refused_with_a_reason(damage):
    value = json.loads(json.dumps(load_figure("metalstm_episode")["comparison"]))
    if damage == "drop sgd":
        del value["sgd"]
    elif damage == "short maml":
        value["maml"]["support_loss"] = value["maml"]["support_loss"][:-1]
    else:
        value["input_gate"] = value["input_gate"][0][:-1]
    with pytest.raises(ValueError, match="comparison"):
        comparison_from_dict(value)


@pytest.fixture(scope="module")
def lesson_models():
    models = {k: (load_glyph_metalstm(k), load_glyph_maml(k)) for k in (1, 5)}
    sgd_lr = {k: load_figure("sgd_tuning")[str(k)]["best"] for k in (1, 5)}
    return models, GlyphTasks("evaluation", image_size=models[1][0].image_size), sgd_lr


def test_dashboard_opens_on_the_shipped_episode_without_adapting(lesson_models, monkeypatch):
    """As lesson 05 builds it: the opening shows the shipped numbers (the same status line as a
    dashboard that adapts the learners itself), and only another episode adapts them."""
    from mtlviz.widgets import MetaLSTMDashboard
    from mtlviz.widgets import metalstm_dashboard

    models, tasks, sgd_lr = lesson_models
    computing = MetaLSTMDashboard(models, tasks, sgd_lr=sgd_lr, random_state=0)
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return metalstm.compare_on_episode(*args, **kwargs)

    monkeypatch.setattr(metalstm_dashboard, "compare_on_episode", counted)
    shipped = MetaLSTMDashboard(models, tasks, sgd_lr=sgd_lr, random_state=0, opening=load_figure("metalstm_episode"))
    assert calls == []
    assert_same_comparison(shipped._comparison, computing._comparison)
    shipped_note = "; this episode was adapted ahead of time and ships with mtlviz"
    for step in (0, 3, models[1][0].n_inner_steps):
        shipped.step = computing.step = step
        assert shipped.status == computing.status + shipped_note  # the same numbers, and says they ship
    assert shipped_note not in computing.status
    shipped.episode_seed = 1
    assert len(calls) == 1 and shipped.status.startswith("1-shot") and shipped_note not in shipped.status
    shipped.episode_seed = 0  # back on the shipped episode: nothing to adapt
    assert len(calls) == 1
    shipped.k_shot = 5
    assert len(calls) == 2


def test_dashboard_refuses_an_opening_that_is_not_the_figure(lesson_models):
    from mtlviz.widgets import MetaLSTMDashboard

    models, tasks, sgd_lr = lesson_models
    with pytest.raises(ValueError, match="opening must be the shipped figure"):
        MetaLSTMDashboard(models, tasks, sgd_lr=sgd_lr, random_state=0, opening={"k_shot": 1})


def test_another_sgd_rate_is_adapted_live_not_taken_from_the_file(lesson_models):
    """A teacher who passes another SGD rate must see that rate's curves, not the shipped ones."""
    from mtlviz.widgets import MetaLSTMDashboard

    models, tasks, sgd_lr = lesson_models
    other = {**sgd_lr, 1: 0.3}
    d = MetaLSTMDashboard(models, tasks, sgd_lr=other, random_state=0, opening=load_figure("metalstm_episode"))
    assert d._comparison.sgd_lr == 0.3

"""Batch norm's choices for query images (issue 13 item 5): the lessons say their few-shot
numbers are transductive and show what the other choices give; these tests check that the three
choices compute what their names say."""
from __future__ import annotations

import pytest
import torch

from mtlviz.nets import NORMALISATIONS, ConvNet, normalised_logits

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def episode():
    torch.manual_seed(0)
    model = ConvNet(n_way=5, channels=8, image_size=20)
    params = dict(model.named_parameters())
    return model, params, torch.randn(5, 1, 20, 20), torch.randn(7, 1, 20, 20)


def test_query_set_normalisation_is_the_plain_forward(episode):
    """The default must stay what every lesson's numbers were computed with."""
    model, params, support, query = episode
    assert torch.equal(normalised_logits(model, params, support, query, "query set"),
                       model.functional_forward(params, query))


def test_support_statistics_make_each_query_image_independent_of_the_others(episode):
    """Not transductive: a query image's logits must not change when the other query images do;
    under the query-set normalisation they do (which is what the lesson warns about)."""
    model, params, support, query = episode
    changed = query.clone()
    changed[1:] = torch.randn(6, 1, 20, 20) * 3
    first = normalised_logits(model, params, support, query, "support set")[0]
    assert torch.allclose(first, normalised_logits(model, params, support, changed, "support set")[0], atol=1e-5)
    assert not torch.allclose(model.functional_forward(params, query)[0],
                              model.functional_forward(params, changed)[0], atol=1e-3)
    # and the support images are what set the statistics
    assert not torch.allclose(first, normalised_logits(model, params, support * 2 + 1, query, "support set")[0],
                              atol=1e-3)


def test_one_image_normalisation_runs_each_image_alone(episode):
    model, params, support, query = episode
    alone = normalised_logits(model, params, support, query, "one image")
    assert alone.shape == (7, 5)
    assert torch.allclose(alone[3], model.functional_forward(params, query[3:4])[0], atol=1e-6)


def test_an_unknown_normalisation_names_the_choices(episode):
    model, params, support, query = episode
    with pytest.raises(ValueError, match="normalisation must be one of 'query set', 'support set', 'one image'"):
        normalised_logits(model, params, support, query, "running stats")
    assert list(NORMALISATIONS) == ["query set", "support set", "one image"]


def test_normalisation_accuracy_needs_a_glyph_estimator():
    from mtlviz.evaluation import normalisation_accuracy

    with pytest.raises(ValueError, match="estimator must be a fitted glyph estimator"):
        normalisation_accuracy(object(), None)


# -- what lesson 01's dashboard and the lessons' sentences rest on --------------------------------

def test_query_batch_ends_are_the_two_named_normalisations():
    """b = 1 must be 'each image alone' and b = all the 'query set' of the shipped table, or the
    dashboard's grey marks would compare different things."""
    from mtlviz.data.glyphs import GlyphTasks
    from mtlviz.evaluation import accuracy_by_query_batch
    from mtlviz.nets import accuracy
    from mtlviz.pretrained import load_glyph_maml

    maml = load_glyph_maml(k_shot=1)
    episode = GlyphTasks("evaluation", image_size=maml.image_size).sample_episodes(1, 5, 1, 5, random_state=3)
    xs, ys, xq, yq = (t[0] for t in episode.data)
    params = maml.adapt(xs, ys)
    result = accuracy_by_query_batch(maml.model_, params, xs, xq, yq, sizes=(1, 25))
    with torch.no_grad():
        for size, name in zip((1, 25), ("one image", "query set")):
            expected = float(accuracy(normalised_logits(maml.model_, params, xs, xq, name), yq))
            assert result["accuracy"][result["sizes"].index(size)] == pytest.approx(expected, abs=1e-6), name
        assert result["support set"] == pytest.approx(
            float(accuracy(normalised_logits(maml.model_, params, xs, xq, "support set"), yq)), abs=1e-6)


def test_the_lessons_sentences_about_the_shipped_table_hold():
    """Lessons 01, 05 and 06 say: the transductive setting adds little (support-set statistics
    within a few points), one image alone breaks the network, and Meta-LSTM leans more on the
    query set than MAML. If regenerated numbers stopped saying so, the prose would be false."""
    from mtlviz.evaluation import mean_ci95
    from mtlviz.pretrained.figures import load_figure

    figure = load_figure("batch_norm_transduction")
    gap = {}
    for row, values in figure.items():
        means = {name: mean_ci95(values[name])[0] for name in NORMALISATIONS}
        gap[row] = means["query set"] - means["support set"]
        assert abs(gap[row]) <= 0.025, row
        assert means["query set"] - means["one image"] >= 0.25, row
    assert max(gap["Meta-LSTM 1-shot"], gap["Meta-LSTM 5-shot"]) > max(gap["MAML 1-shot"], gap["MAML 5-shot"])


def test_query_batch_dashboard_redraws_per_episode_and_reports_failures():
    """New episode must redraw the line and say the three accuracies; a failure is one status
    line, not a traceback (here: a model whose images do not match the task family's)."""
    import matplotlib

    matplotlib.use("agg")
    from mtlviz.data.glyphs import GlyphTasks
    from mtlviz.pretrained import load_glyph_maml
    from mtlviz.pretrained.figures import batch_norm_means
    from mtlviz.widgets import QueryBatchDashboard

    maml = load_glyph_maml(k_shot=1)
    dashboard = QueryBatchDashboard(maml, GlyphTasks("evaluation", image_size=20),
                                    shipped=batch_norm_means("MAML 1-shot"), random_state=0)
    first = list(dashboard._artists["episode"].get_ydata())
    assert first == dashboard.result["accuracy"] and len(first) == 6
    assert dashboard.status.startswith("episode 0: all 25 query images normalised together")
    dashboard.new_button.click()
    assert dashboard.episode_seed == 1 and dashboard.status.startswith("episode 1:")
    dashboard._tasks = GlyphTasks("evaluation", image_size=28)
    dashboard.new_button.click()
    assert dashboard.status_kind == "error" and "x_support must have shape" in dashboard.status

"""Prototypical Networks, nearest centroid and the student's own task (lesson 08).

If a test here fails, lesson 08 shows a wrong prototype, a wrong decision, a number its code no
longer produces, or lets a student submit an incomplete answer.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mtlviz import WeightsError
from mtlviz.data.glyphs import GlyphTasks
from mtlviz.exercises import check_prototypes
from mtlviz.meta.fewshot import MAMLClassifier, PixelNearestNeighbour
from mtlviz.meta.own_task import check_answers, model_answers, own_task
from mtlviz.meta.protonet import (NearestCentroid, PrototypicalNetwork, embed_episode, pca_2d, prototypes,
                                  squared_distances)
from mtlviz.nets import ConvNet
from mtlviz.pretrained import load_glyph_finetune, load_nearest_centroid, load_protonet
from mtlviz.pretrained import figures
from mtlviz.pretrained.figures import METRIC_CHECK_EPISODES, load_figure
from tests._cpu import assert_recomputed

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def small_pool():
    return GlyphTasks("background", image_size=12).pool(6, random_state=0)


@pytest.fixture(scope="module")
def episode():
    return GlyphTasks("evaluation", image_size=20).sample_episodes(1, 5, 2, 3, random_state=4)


@pytest.fixture(scope="module")
def protonet():
    return load_protonet(1)


def test_prototypes_are_the_class_means():
    """c_k = (1/|S_k|) Σ f(x_i): compared with a loop over the classes, classes of unequal size."""
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(9, 4, generator=generator, dtype=torch.float64)
    labels = torch.tensor([2, 0, 1, 2, 2, 0, 1, 1, 1])
    expected = torch.stack([embeddings[labels == k].mean(0) for k in range(3)])
    assert torch.allclose(prototypes(embeddings, labels, 3), expected, atol=1e-12)
    with pytest.raises(ValueError, match=r"classes \[3\] have none"):
        prototypes(embeddings, labels, 4)


def test_squared_distances_match_cdist():
    generator = torch.Generator().manual_seed(1)
    a, b = torch.randn(7, 5, generator=generator, dtype=torch.float64), torch.randn(3, 5, generator=generator,
                                                                                      dtype=torch.float64)
    assert torch.allclose(squared_distances(a, b), torch.cdist(a, b) ** 2, atol=1e-10)


def test_predict_proba_is_the_softmax_over_minus_squared_distances(protonet, episode):
    """The lesson's formula p(y = k | x) = softmax_k(−‖f(x) − c_k‖²), rebuilt from the network."""
    xs, ys, xq = episode.x_support[0], episode.y_support[0], episode.x_query[0]
    model, params = protonet.model_, protonet.params_
    with torch.no_grad():
        support, query = model.features(params, xs), model.features(params, xq)
    centres = torch.stack([support[ys == k].mean(0) for k in range(5)])
    expected = torch.softmax(-torch.cdist(query, centres) ** 2, -1)
    assert torch.allclose(protonet.predict_proba(xs, ys, xq), expected, atol=1e-4)
    assert torch.equal(protonet.predict(xs, ys, xq), expected.argmax(-1))


def test_episode_accuracy_agrees_with_predict_per_episode(protonet):
    """The batched scoring (600-episode table) and the one-episode path (dashboards) agree."""
    batch = GlyphTasks("evaluation", image_size=20).sample_episodes(3, 5, 1, 4, random_state=7)
    per_episode = torch.stack([(protonet.predict(xs, ys, xq) == yq).float().mean() for xs, ys, xq, yq in zip(*batch.data)])
    assert torch.equal(protonet.episode_accuracy(batch), per_episode)


def test_training_learns_an_embedding(small_pool):
    """200 steps on a small pool beat the untrained embedding on the same new episodes by a wide margin."""
    episodes = GlyphTasks("evaluation", image_size=12).sample_episodes(20, 5, 1, 5, random_state=3)
    untrained = PrototypicalNetwork(channels=8, image_size=12, n_outer_steps=0, random_state=0).fit(small_pool)
    trained = PrototypicalNetwork(channels=8, image_size=12, n_outer_steps=200, random_state=0,
                                  outer_lr=3e-3).fit(small_pool)
    assert len(trained.history_) == 200
    assert trained.score(episodes) > untrained.score(episodes) + 0.1


def test_save_load_round_trip_and_bad_files(tmp_path, small_pool):
    model = PrototypicalNetwork(channels=4, image_size=12, n_outer_steps=3, random_state=0).fit(small_pool)
    path = tmp_path / "pn.pt"
    model.save(path)
    again = PrototypicalNetwork.load(path)
    assert again.get_params() == model.get_params()
    batch = GlyphTasks("evaluation", image_size=12).sample_episodes(2, 5, 1, 2, random_state=0)
    assert torch.equal(again.episode_accuracy(batch), model.episode_accuracy(batch))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="python -m mtlviz.pretrained.train_protonet"):
        PrototypicalNetwork.load(bad)
    with pytest.raises(WeightsError, match="missing.*train_protonet"):
        load_protonet(1, path=tmp_path / "none.pt")


@pytest.mark.parametrize("name, value, message", [
    ("outer_lr", 0.0, r"outer_lr must be in \(0, 1\]"),
    ("n_way", 1, r"n_way must be"),
    ("meta_batch_size", 0, r"meta_batch_size must be"),
    ("n_outer_steps", -1, r"n_outer_steps must be"),
])
def test_bad_hyperparameters_name_the_parameter(small_pool, name, value, message):
    with pytest.raises(ValueError, match=message):
        PrototypicalNetwork(image_size=12, **{name: value}).fit(small_pool)


def test_bad_inputs_raise_value_errors(protonet, episode):
    xs, ys, xq = episode.x_support[0], episode.y_support[0], episode.x_query[0]
    with pytest.raises(ValueError, match="x must have size 20"):
        protonet.embed(torch.zeros(3, 1, 12, 12))
    with pytest.raises(ValueError, match="y_support must hold integer class labels"):
        protonet.predict(xs, ys.float(), xq)
    with pytest.raises(ValueError, match="one label per support image"):
        protonet.predict(xs, ys[:-1], xq)
    with pytest.raises(RuntimeError, match="not fitted"):
        PrototypicalNetwork().predict(xs, ys, xq)


def test_shipped_protonets_are_what_train_protonet_makes():
    """The shipped files hold train_protonet's configuration, and the first steps of that
    configuration reproduce the start of the shipped training curve (reduced: 2 of its 500
    stored points, each the mean of 6 steps for 1-shot)."""
    from mtlviz.pretrained.train_glyphs import background_pool
    from mtlviz.pretrained.train_protonet import STEPS, protonet as shipped_config

    for k_shot in (1, 5):
        shipped = load_protonet(k_shot)
        assert shipped.get_params() == shipped_config(k_shot).get_params()
    k_shot, chunk = 1, -(-STEPS[1] // 500)
    shipped = load_protonet(k_shot)
    again = shipped_config(k_shot, n_outer_steps=2 * chunk).fit(background_pool())
    recomputed = [sum(again.history_[i * chunk:(i + 1) * chunk]) / chunk for i in range(2)]
    assert_recomputed(recomputed, shipped.history_[:2], abs=1e-4, other_cpu_rel=0.005, what="ProtoNet 1-shot curve")


def test_nearest_centroid_uses_the_frozen_pretrained_backbone(episode):
    xs, ys, xq = episode.x_support[0], episode.y_support[0], episode.x_query[0]
    pretrained = load_glyph_finetune()
    euclidean, cosine = load_nearest_centroid("euclidean"), load_nearest_centroid("cosine")
    with torch.no_grad():
        support, query = (pretrained.model_.features(pretrained.backbone_, x) for x in (xs, xq))
    centres = torch.stack([support[ys == k].mean(0) for k in range(5)])
    assert torch.equal(euclidean.predict(xs, ys, xq), torch.cdist(query, centres).argmin(-1))
    cosines = torch.nn.functional.normalize(query, dim=1) @ torch.nn.functional.normalize(centres, dim=1).T
    assert torch.equal(cosine.predict(xs, ys, xq), cosines.argmax(-1))
    with pytest.raises(ValueError, match="distance must be one of 'euclidean', 'cosine'"):
        load_nearest_centroid("manhattan")
    with pytest.raises(ValueError, match="backbone must hold exactly"):
        NearestCentroid(ConvNet(5, 32, 20), {})


def test_pca_2d_finds_the_two_largest_directions():
    generator = torch.Generator().manual_seed(2)
    points = torch.randn(200, 3, generator=generator, dtype=torch.float64) * torch.tensor([5.0, 2.0, 0.1])
    axes = pca_2d(points)
    assert torch.allclose(axes.T @ axes, torch.eye(2, dtype=torch.float64), atol=1e-10)
    assert axes[:, 0].abs().argmax() == 0 and axes[:, 1].abs().argmax() == 1


def test_embedded_episode_shows_the_decisions_the_classifier_makes(protonet, episode):
    xs, ys, xq, yq = episode.x_support[0], episode.y_support[0], episode.x_query[0], episode.y_query[0]
    view = embed_episode(protonet, xs, ys, xq, yq)
    assert torch.equal(view.predicted, protonet.predict(xs, ys, xq))
    assert view.support_2d.shape == (10, 2) and view.query_2d.shape == (15, 2) and view.prototypes_2d.shape == (5, 2)
    # a prototype is the mean of its class in the picture too (the projection is affine)
    assert torch.allclose(view.prototypes_2d[0], view.support_2d[ys == 0].mean(0), atol=1e-4)
    assert 0 < view.explained <= 1


def test_own_task_is_deterministic_and_hides_the_answer_order():
    tasks = GlyphTasks("evaluation", image_size=20)
    first, again, other = own_task(tasks, 3), own_task(tasks, 3), own_task(tasks, 4)
    assert torch.equal(first.x_query, again.x_query) and torch.equal(first.y_query, again.y_query)
    assert not torch.equal(first.x_query, other.x_query)
    assert first.y_support.tolist() == [0, 1, 2, 3, 4] and sorted(first.y_query.tolist()) == [0, 0, 1, 1, 2, 2, 3, 3,
                                                                                              4, 4]
    # the query order is shuffled in most tasks (a class-sorted order would give the answers away)
    shuffled = [own_task(tasks, seed).y_query.tolist() != sorted(own_task(tasks, seed).y_query.tolist())
                for seed in range(5)]
    assert sum(shuffled) >= 4


def test_incomplete_or_bad_answers_are_refused():
    task = own_task(GlyphTasks("evaluation", image_size=20), 0)
    with pytest.raises(ValueError, match="answer every query image first: 2, 5 are not answered"):
        check_answers([0, None, 1, 2, None, 0, 1, 2, 3, 4], task)
    with pytest.raises(ValueError, match=r"answers\[0\] must be a class in \[0, 4\]"):
        check_answers([7] * 10, task)
    with pytest.raises(ValueError, match="one label per query image"):
        check_answers([0], task)
    assert check_answers(task.y_query.tolist(), task).tolist() == task.y_query.tolist()


def test_models_answer_the_same_task(protonet):
    from mtlviz.pretrained import load_glyph_maml

    task = own_task(GlyphTasks("evaluation", image_size=20), 0)
    maml = load_glyph_maml(1)
    answers = model_answers({"MAML": maml, "ProtoNet": protonet, "pixel": PixelNearestNeighbour()}, task)
    assert torch.equal(answers["MAML"], maml.predict(task.x_query, maml.adapt(task.x_support, task.y_support)))
    assert torch.equal(answers["ProtoNet"], protonet.predict(task.x_support, task.y_support, task.x_query))
    nearest = torch.cdist(task.x_query.flatten(1), task.x_support.flatten(1)).argmin(1)
    assert torch.equal(answers["pixel"], task.y_support[nearest])
    with pytest.raises(ValueError, match=r"models\['x'\] must be a MAMLClassifier"):
        model_answers({"x": object()}, task)


def test_check_prototypes_accepts_the_formula_and_names_slips():
    def right(embeddings, labels, n_way):
        return torch.stack([embeddings[labels == k].mean(0) for k in range(n_way)])

    def summed(embeddings, labels, n_way):
        return torch.stack([embeddings[labels == k].sum(0) for k in range(n_way)])

    def global_mean(embeddings, labels, n_way):
        return embeddings.mean(0).expand(n_way, -1).clone()

    assert check_prototypes(right).passed
    assert "divide by |S_k|" in check_prototypes(summed).message
    assert "mean of all embeddings" in check_prototypes(global_mean).message
    assert not check_prototypes(lambda e, y, n: e[:n]).passed
    assert "pass your function" in check_prototypes(3).message


def test_metric_table_figure_is_recomputed_on_its_first_50_episodes():
    """Lesson 08's 600-episode table: the first 50 episodes of every row at both shots (the same
    draws) are recomputed and compared with the shipped file (the full table takes minutes;
    these 50 about 40 CPU-s). If this fails, a row of the lesson's table no longer says what its
    model scores: the lesson says a test recomputes every row."""
    shipped = load_figure("metric_fewshot")
    again = figures.metric_fewshot(n_episodes=METRIC_CHECK_EPISODES)
    assert set(again) == set(shipped) == {"1", "5"}
    for k_shot, table in again.items():
        assert set(table) == set(shipped[k_shot]), k_shot
        for name, row in table.items():
            assert row["mean"] == pytest.approx(shipped[k_shot][name]["first_50"], abs=1e-9), (k_shot, name)
    for table in shipped.values():
        for row in table.values():
            assert row["n_episodes"] == 600 and 0 < row["ci95"] < 0.05 and math.isfinite(row["mean"])


# -- dashboards ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def protonet_dashboard(protonet):
    from mtlviz.widgets import ProtoNetDashboard

    classifiers = {"ProtoNet": {1: protonet, 5: protonet}, "nearest centroid": {1: load_nearest_centroid(),
                                                                                 5: load_nearest_centroid()}}
    return ProtoNetDashboard(classifiers, GlyphTasks("evaluation", image_size=20), random_state=0)


def test_protonet_dashboard_draws_prototypes_and_decisions(protonet_dashboard):
    """The map shows 5 prototypes, the 5 support and 25 query points, and the status the accuracy
    of exactly the decisions drawn."""
    dashboard = protonet_dashboard
    dashboard.embedding, dashboard.k_shot, dashboard.episode_seed = "ProtoNet", 1, 0
    view = dashboard.view
    right = int((view.predicted == view.y_query).sum())
    assert f"{right} of 25 query images nearest their own class's prototype" in dashboard.status
    offsets = [len(c.get_offsets()) for c in dashboard._map_ax.collections]
    assert 5 in offsets and 25 in offsets  # support (5 = prototypes too) and query points
    stars = [c for c in dashboard._map_ax.collections if len(c.get_offsets()) == 5][-1]
    assert torch.allclose(torch.tensor(np.ma.getdata(stars.get_offsets()), dtype=torch.float32), view.prototypes_2d,
                          atol=1e-5)


def test_protonet_dashboard_new_episode_and_k_change_the_picture(protonet_dashboard):
    dashboard = protonet_dashboard
    dashboard.embedding, dashboard.k_shot, dashboard.episode_seed = "ProtoNet", 1, 0
    before = dashboard.view.query_2d.clone()
    dashboard.new_button.click()
    assert dashboard.episode_seed == 1 and not torch.equal(before, dashboard.view.query_2d)
    dashboard.k_shot = 5
    assert len(dashboard.view.y_support) == 25 and "5-way 5-shot" in dashboard.status
    dashboard.embedding = "nearest centroid"
    assert dashboard.status.startswith("nearest centroid") and dashboard.status_kind == "info"


@pytest.fixture()
def own_dashboard(protonet):
    from mtlviz.widgets import OwnTaskDashboard

    return OwnTaskDashboard({"ProtoNet": protonet, "pixel nearest neighbour": PixelNearestNeighbour()},
                            GlyphTasks("evaluation", image_size=20), random_state=0)


def test_own_task_cannot_be_submitted_incomplete(own_dashboard):
    """Nine answers out of ten: the button stays disabled, and a forced submit says what is missing."""
    dashboard = own_dashboard
    assert dashboard.submit_button.disabled and "10 of 10 query images still to answer" in dashboard.status
    for chooser in dashboard.choosers[:-1]:
        chooser.value = 0
    assert dashboard.submit_button.disabled and "1 of 10" in dashboard.status
    dashboard._on_submit_click(None)
    assert dashboard.status_kind == "error" and "10 is not answered" in dashboard.status
    assert dashboard.results is None
    dashboard.choosers[-1].value = 1
    assert not dashboard.submit_button.disabled


def test_own_task_scores_the_student_beside_the_models(own_dashboard, protonet):
    dashboard = own_dashboard
    truth = dashboard.task.y_query.tolist()
    for chooser, label in zip(dashboard.choosers, truth):
        chooser.value = label
    chooser = dashboard.choosers[0]
    chooser.value = (truth[0] + 1) % 5  # one mistake
    dashboard.submit_button.click()
    task = dashboard.task
    protonet_right = int((protonet.predict(task.x_support, task.y_support, task.x_query) == task.y_query).sum())
    assert dashboard.results["you"] == 9 and dashboard.results["ProtoNet"] == protonet_right
    assert list(dashboard.results) == ["you", "ProtoNet", "pixel nearest neighbour"]
    assert "you 9 of 10 right" in dashboard.status and "✗ it is" in dashboard._verdicts[0].value
    assert dashboard.submit_button.disabled and all(c.disabled for c in dashboard.choosers)
    dashboard.new_button.click()
    assert dashboard.task_seed == 1 and dashboard.results is None and dashboard.answers == [None] * 10
    assert dashboard.scoreboard.value == "" and not any(c.disabled for c in dashboard.choosers)

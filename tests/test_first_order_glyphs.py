"""Reptile on glyph episodes (mtlviz.meta.reptile.ReptileClassifier, lesson 09), checked against a plain
per-episode SGD loop written out with torch.autograd."""
from __future__ import annotations

import pytest
import torch

from mtlviz.data.glyphs import GlyphTasks
from mtlviz.meta.reptile import ReptileClassifier
from mtlviz.nets import cross_entropy
from tests._cpu import assert_recomputed

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _sgd(model, params, x, y, lr, steps):
    params = {n: p.detach().clone().requires_grad_() for n, p in params.items()}
    for _ in range(steps):
        loss = cross_entropy(model.functional_forward(params, x), y)
        grads = torch.autograd.grad(loss, list(params.values()))
        params = {n: (p - lr * g).detach().requires_grad_() for (n, p), g in zip(params.items(), grads)}
    return {n: p.detach() for n, p in params.items()}


def test_one_reptile_step_moves_theta_by_epsilon_times_the_mean_of_the_adapted_offsets():
    """If this fails, lesson 09's glyph Reptile is not Reptile: one outer step must be
    θ + ε (1/N) Σᵢ (θ̃ᵢ − θ), θ̃ᵢ after plain SGD steps on all images of episode i (no split)."""
    tasks = GlyphTasks("background", image_size=12)
    kwargs = dict(image_size=12, channels=4, inner_lr=0.1, outer_lr=0.5, n_inner_steps=2, meta_batch_size=3,
                  n_query=2, random_state=0)
    start = ReptileClassifier(**kwargs, n_outer_steps=0).fit(tasks)
    stepped = ReptileClassifier(**kwargs, n_outer_steps=1).fit(tasks)
    theta = {n: p.detach() for n, p in start.params_.items()}
    # the episodes the step drew: the same generator, after the initialisation's seed
    from mtlviz._validation import check_random_state, draw_seed

    generator = check_random_state(0)
    draw_seed(generator)
    batch = tasks.sample_episodes(3, 5, 1, 2, generator)
    offsets = []
    for xs, ys, xq, yq in zip(*batch.data):
        adapted = _sgd(start.model_, theta, torch.cat([xs, xq]), torch.cat([ys, yq]), 0.1, 2)
        offsets.append({n: adapted[n] - theta[n] for n in theta})
    for name in theta:
        expected = theta[name] + 0.5 * torch.stack([o[name] for o in offsets]).mean(0)
        torch.testing.assert_close(stepped.params_[name].detach(), expected, rtol=1e-4, atol=1e-6, msg=name)


def test_reptile_classifier_round_trips_and_refuses_a_bad_epsilon(tmp_path):
    tasks = GlyphTasks("background", image_size=12)
    model = ReptileClassifier(image_size=12, channels=4, n_outer_steps=2, random_state=0).fit(tasks)
    model.save(tmp_path / "reptile.pt")
    again = ReptileClassifier.load(tmp_path / "reptile.pt")
    episodes = tasks.sample_episodes(4, 5, 1, 3, random_state=1)
    torch.testing.assert_close(again.episode_accuracy(episodes), model.episode_accuracy(episodes))
    with pytest.raises(ValueError, match="outer_lr"):
        ReptileClassifier(outer_lr=2.0).fit(tasks)


@pytest.mark.parametrize("kind", ["fomaml", "reptile"])
def test_shipped_glyph_models_are_what_the_training_command_makes(kind):
    """If this fails, a model behind lesson 09's glyph table is not what ``python -m
    mtlviz.pretrained.train_first_order_glyphs`` makes: another configuration than the command's at
    the file's outer steps, or a training curve whose start the command no longer reproduces
    (reduced: the first 2 of its stored points, at every K the lesson shows)."""
    from mtlviz.meta.fewshot import MAMLClassifier
    from mtlviz.pretrained import WEIGHTS_DIR
    from mtlviz.pretrained.figures import load_figure
    from mtlviz.pretrained.train_first_order_glyphs import first_order_glyph_model, weights_file
    from mtlviz.pretrained.train_glyphs import background_pool

    cls = MAMLClassifier if kind == "fomaml" else ReptileClassifier
    shots = [int(k) for k in load_figure("first_order_glyphs")]
    assert 1 in shots
    pool = background_pool()
    for k_shot in shots:
        shipped = cls.load(WEIGHTS_DIR / weights_file(kind, k_shot))
        again = first_order_glyph_model(kind, shipped.n_outer_steps, k_shot)
        assert shipped.get_params() == again.get_params(), k_shot
        chunk = -(-shipped.n_outer_steps // 500)  # weight files keep the loss averaged over chunks (compress_history)
        for record in again.fit_iter(pool):
            if record["step"] == 2 * chunk:
                break
        recomputed = [sum(again.history_[i * chunk:(i + 1) * chunk]) / chunk for i in range(2)]
        assert_recomputed(recomputed, shipped.history_[:2], abs=1e-4, other_cpu_rel=0.05, what=f"{kind} {k_shot}-shot curve")

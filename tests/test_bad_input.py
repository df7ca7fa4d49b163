"""Bad input, table by table: every row is a call a student could type, the exception it must
raise and what its message must say (the parameter and what it must be).

Each row is ``(id, call, exception, regex)``; ``call`` takes the namespace ``S`` of small objects
built once per module (a two-layer MLP and a tiny conv net, the shipped sinusoid MAML, estimators
"fitted" with 0 steps on 8-pixel digits). The suite runs in CI (a few seconds); issue 17 items 1,
2 and 6. ``DivergenceError`` rows check that a diverging call raises with the α to try instead of
returning NaN.
"""
from __future__ import annotations

import copy
import functools
import math
import re
import tempfile
from pathlib import Path

import pytest
import torch

import mtlviz
from mtlviz import MAML, MLP, JointTraining, SinusoidTasks, WeightsError
from mtlviz._base import Estimator
from mtlviz import functional as Fn
from mtlviz.data.glyphs import DigitsTasks
from mtlviz.data.moons import two_moons
from mtlviz.data.tasks import LineTasks, QueryIsSupport
from mtlviz.evaluation import evaluate_episodes, mean_ci95, sgd_accuracy_curve
from mtlviz.meta import landscape
from mtlviz.meta.fewshot import MAMLClassifier, PixelNearestNeighbour
from mtlviz.meta.metalstm import MetaLSTM, compare_on_episode, tune_sgd_lr
from mtlviz.nets import ConvNet, cross_entropy
from mtlviz.pretrained import load_sinusoid
from mtlviz.transfer.domain import DomainAdaptationClassifier, project_features
from mtlviz.transfer.finetune import FineTuneClassifier
from mtlviz.data.glyphs import GlyphTasks
from mtlviz.data.navigation import check_goal, sample_goals
from mtlviz.meta.anil import ANILClassifier, HeadAdapter, linear_cka
from mtlviz.meta.own_task import check_answers, own_task
from mtlviz.meta.protonet import NearestCentroid, PrototypicalNetwork, prototypes
from mtlviz.meta.reptile import FOMAML, Reptile, ReptileClassifier
from mtlviz.meta.rl import NavigationPolicy, random_policy, returns_to_go

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DivergenceError = mtlviz.DivergenceError
NAN, INF = float("nan"), float("inf")


class _Objects:
    """The small objects the rows call, built on first use (one per module run)."""

    @functools.cached_property
    def mlp(self):
        return MLP((1, 8, 1))

    @property
    def params(self):
        return Fn.get_params(self.mlp, requires_grad=True)

    @functools.cached_property
    def task(self):  # one task, (5, 1) each
        return SinusoidTasks().sample_points(4.0, 0.5, 5, random_state=0)

    @property
    def xs(self):
        return self.task[0]

    @property
    def ys(self):
        return self.task[1]

    @functools.cached_property
    def batch(self):  # 3 tasks, K = 5, Q = 6
        return SinusoidTasks().sample_batch(3, 5, 6, random_state=0)

    @functools.cached_property
    def conv(self):
        torch.manual_seed(0)
        return ConvNet(5, 4, 8)

    @property
    def conv_params(self):
        return Fn.get_params(self.conv)

    @functools.cached_property
    def digits(self):
        return DigitsTasks()

    @functools.cached_property
    def episodes(self):  # 2 episodes of 5-way 1-shot 8-pixel digits
        return self.digits.sample_episodes(2, 5, 1, 3, random_state=0)

    @property
    def images(self):
        return self.episodes.x_support[0]

    @property
    def labels(self):
        return self.episodes.y_support[0]

    @functools.cached_property
    def maml(self):
        return load_sinusoid("maml")

    @functools.cached_property
    def classifier(self):
        return MAMLClassifier(image_size=8, channels=4, n_outer_steps=0, random_state=0).fit(self.digits)

    @functools.cached_property
    def meta_lstm(self):
        return MetaLSTM(image_size=8, channels=4, n_outer_steps=0, random_state=0).fit(self.digits)

    @functools.cached_property
    def finetune(self):
        return FineTuneClassifier(strategy="scratch", image_size=8, channels=4, n_inner_steps=2).initialise(0)

    @functools.cached_property
    def moons(self):
        return two_moons(40, random_state=0)

    @functools.cached_property
    def domain(self):
        x, y = self.moons
        return DomainAdaptationClassifier("source_only", n_steps=2, random_state=0).fit(x, y, x)

    @functools.cached_property
    def protonet(self):
        return PrototypicalNetwork(image_size=8, channels=4, n_outer_steps=0, random_state=0).fit(self.digits)

    @functools.cached_property
    def anil(self):
        return ANILClassifier(image_size=8, channels=4, n_outer_steps=0, random_state=0).fit(self.digits)

    @functools.cached_property
    def navigation(self):
        return random_policy()

    @functools.cached_property
    def line_batch(self):
        return LineTasks().sample_batch(3, 5, 5, random_state=0)


S = _Objects()


def with_param(params, name, value):
    return {**params, name: value}


def without(params, name):
    return {k: v for k, v in params.items() if k != name}


def adapt(**change):
    """Fn.adapt on the MLP and one (5, 1) task, with ``change`` applied to its arguments."""
    args = dict(model=S.mlp, params=S.params, x_support=S.xs, y_support=S.ys, inner_lr=0.1, n_inner_steps=1)
    args.update(change)
    return Fn.adapt(args.pop("model"), args.pop("params"), args.pop("x_support"), args.pop("y_support"), **args)


def conv_adapt(**change):
    args = dict(model=S.conv, params=S.conv_params, x_support=S.images, y_support=S.labels, inner_lr=0.1,
                loss_fn=cross_entropy)
    args.update(change)
    return Fn.adapt(args.pop("model"), args.pop("params"), args.pop("x_support"), args.pop("y_support"), **args)


def meta(function, *, replace=None, **change):
    """A meta-batch function (meta_loss, ...) on the 3-task batch, ``replace`` swapping tensors."""
    data = dict(zip(["x_support", "y_support", "x_query", "y_query"], S.batch.data))
    data.update(replace or {})
    args = dict(inner_lr=0.1, n_inner_steps=1)
    args.update(change)
    params = args.pop("params", S.params)
    return function(args.pop("model", S.mlp), params, *data.values(), **args)


@functools.cache
def compiled():
    """The compiled meta-gradient, traced without code generation (the checks run outside the graph)."""
    return Fn.compile_meta_value_and_grad(backend="aot_eager")


def big_batch():
    """Amplitudes far beyond the family's: 10 steps at α = 2 overshoot."""
    batch = S.batch
    return {"y_support": 50 * batch.y_support, "y_query": 50 * batch.y_query}


def saved_maml_with_nan(tmp):
    path = Path(tmp) / "nan.pt"
    S.maml.save(path)
    state = torch.load(path, weights_only=True)
    state["params"]["0.bias"][0] = NAN
    torch.save(state, path)
    return MAML.load(path)


def overflowing_classifier():
    """The tiny classifier with a head so large that its logits overflow to inf."""
    classifier = copy.deepcopy(S.classifier)
    classifier.params_["head.weight"] = (1e38 * torch.ones_like(classifier.params_["head.weight"])).requires_grad_()
    return classifier


def fit_maml(**settings):
    return MAML(**{"n_outer_steps": 2, "meta_batch_size": 2, "k_shot": 3, "k_query": 3, "random_state": 0,
                   **settings}).fit(SinusoidTasks())


V, D, W = ValueError, DivergenceError, WeightsError
X31 = torch.zeros(5, 3)

ROWS = [
    # -- functional: the model, its parameters ---------------------------------------------------
    ("adapt-model-string", lambda: adapt(model="mlp"), V, r"model must be a torch\.nn\.Module .*got str"),
    ("adapt-params-list", lambda: adapt(params=[1.0]), V, r"params must be a non-empty dict .*got list"),
    ("adapt-params-missing-key", lambda: adapt(params=without(S.params, "0.weight")), V,
     r"params must hold exactly the model's parameters .*missing \['0\.weight'\]"),
    ("adapt-params-extra-key", lambda: adapt(params=with_param(S.params, "head.bias", torch.zeros(1))), V,
     r"params must hold exactly the model's parameters .*names the model does not have: \['head\.bias'\]"),
    ("adapt-params-wrong-shape", lambda: adapt(params=with_param(S.params, "0.weight", torch.zeros(8, 3))), V,
     r"params\['0\.weight'\] must have shape \(8, 1\) for this model; got \(8, 3\)"),
    ("adapt-params-nan", lambda: adapt(params=with_param(S.params, "0.bias", torch.full((8,), NAN))), V,
     r"params\['0\.bias'\] must be finite"),
    ("adapt-params-int", lambda: adapt(params=with_param(S.params, "0.bias", torch.zeros(8, dtype=torch.int64))), V,
     r"params\['0\.bias'\] must be a floating-point torch\.Tensor; got torch\.int64"),
    # -- functional: the points ----------------------------------------------------------------
    ("adapt-x-feature-width", lambda: adapt(x_support=X31), V,
     r"x_support must have shape \(K, 1\) for this model \(1 input feature per point\); got shape \(5, 3\)"),
    ("adapt-x-1d", lambda: adapt(x_support=torch.zeros(5), y_support=torch.zeros(5)), V,
     r"x_support must have shape \(K, 1\) for this model"),
    ("adapt-x-int", lambda: adapt(x_support=torch.zeros(5, 1, dtype=torch.int64)), V,
     r"x_support must hold floating-point values \(torch\.float32\); got dtype torch\.int64"),
    ("adapt-x-float64", lambda: adapt(x_support=S.xs.double()), V,
     r"x_support must have the parameters' dtype torch\.float32; got torch\.float64"),
    ("adapt-x-list", lambda: adapt(x_support=[[0.0]] * 5), V, r"x_support must be a torch\.Tensor; got list"),
    ("adapt-x-nan", lambda: adapt(x_support=torch.full((5, 1), NAN)), V, r"x_support must be finite"),
    ("adapt-y-inf", lambda: adapt(y_support=torch.full((5, 1), INF)), V, r"y_support must be finite"),
    ("adapt-x-empty", lambda: adapt(x_support=torch.zeros(0, 1), y_support=torch.zeros(0, 1)), V,
     r"x_support must hold at least 1 point; got shape \(0, 1\)"),
    ("adapt-y-broadcasts", lambda: adapt(y_support=X31), V,
     r"y_support must have shape \(K, 1\), one target per output of the model; got shape \(5, 3\)"),
    ("adapt-y-int", lambda: adapt(y_support=torch.zeros(5, 1, dtype=torch.int64)), V,
     r"y_support must hold real targets of the parameters' dtype torch\.float32; got torch\.int64"),
    ("adapt-y-fewer-points", lambda: adapt(y_support=torch.zeros(4, 1)), V,
     r"x_support and y_support must hold the same number of points; got 5 and 4"),
    # -- functional: hyperparameters and flags -------------------------------------------------------
    ("adapt-inner_lr-negative", lambda: adapt(inner_lr=-0.5), V, r"inner_lr must be in \[0, 10\]; got -0\.5"),
    ("adapt-inner_lr-nan", lambda: adapt(inner_lr=NAN), V, r"inner_lr must be a finite number in \[0, 10\]"),
    ("adapt-inner_lr-string", lambda: adapt(inner_lr="0.1"), V, r"inner_lr must be a real number in \[0, 10\]"),
    ("adapt-n_inner_steps-huge", lambda: adapt(n_inner_steps=10**9), V,
     r"n_inner_steps must be in \[0, 100\]; got 1000000000"),
    ("adapt-first_order-int", lambda: adapt(first_order=1), V, r"first_order must be True or False; got 1"),
    ("adapt-first_order-string", lambda: adapt(first_order="no"), V, r"first_order must be True or False; got 'no'"),
    ("adapt-loss_fn-string", lambda: adapt(loss_fn="mse"), V, r"loss_fn must be a function L\(prediction, target\)"),
    ("adapt-diverges", lambda: adapt(y_support=50 * S.ys, inner_lr=2.0, n_inner_steps=10), D,
     r"adapt diverged: NaN or infinite after 10 inner steps at α = 2; try α below \d"),
    ("adapt_trajectory-x-feature-width", lambda: Fn.adapt_trajectory(S.mlp, S.params, X31, S.ys, inner_lr=0.1), V,
     r"x_support must have shape \(K, 1\) for this model"),
    # -- functional: images and labels (ConvNet, cross-entropy) ---------------------------------------
    ("conv-labels-float", lambda: conv_adapt(y_support=S.labels.float()), V,
     r"y_support must hold integer class labels in \[0, 4\] \(torch\.int64\); got dtype torch\.float32"),
    ("conv-labels-too-large", lambda: conv_adapt(y_support=S.labels + 5), V,
     r"y_support must hold class labels in \[0, 4\]; got \d+"),
    ("conv-labels-negative", lambda: conv_adapt(y_support=S.labels - 1), V,
     r"y_support must hold class labels in \[0, 4\]; got -1"),
    ("conv-labels-bool", lambda: conv_adapt(y_support=S.labels > 2), V,
     r"y_support must hold integer class labels in \[0, 4\] \(torch\.int64\); got dtype torch\.bool"),
    ("conv-labels-column", lambda: conv_adapt(y_support=S.labels[:, None]), V,
     r"y_support must have shape \(5,\), one class label per point of x_support; got shape \(5, 1\)"),
    ("conv-image-size", lambda: conv_adapt(x_support=torch.zeros(5, 1, 10, 10)), V,
     r"x_support must have shape \(K, 1, 8, 8\) for this model \(1-channel 8×8 images\); got shape \(5, 1, 10, 10\)"),
    ("conv-image-channels", lambda: conv_adapt(x_support=torch.zeros(5, 3, 8, 8)), V,
     r"x_support must have shape \(K, 1, 8, 8\) for this model .*got shape \(5, 3, 8, 8\)"),
    ("conv-image-no-channel", lambda: conv_adapt(x_support=torch.zeros(5, 8, 8)), V,
     r"x_support must have shape \(K, 1, 8, 8\)"),
    # -- functional: meta-batches ----------------------------------------------------------------
    ("meta_loss-empty-query", lambda: meta(Fn.meta_loss, replace={"x_query": torch.zeros(3, 0, 1),
                                                                   "y_query": torch.zeros(3, 0, 1)}), V,
     r"x_query must hold at least 1 point per task; got shape \(3, 0, 1\)"),
    ("meta_loss-y_query-broadcasts", lambda: meta(Fn.meta_loss, replace={"y_query": torch.zeros(3, 6, 3)}), V,
     r"y_query must have shape \(N, K, 1\), one target per output of the model; got shape \(3, 6, 3\)"),
    ("meta_loss-x_support-feature-width", lambda: meta(Fn.meta_loss, replace={"x_support": torch.zeros(3, 5, 2)}),
     V, r"x_support must have shape \(N, K, 1\) for this model \(1 input feature per point\); got shape \(3, 5, 2\)"),
    ("meta_loss-unbatched", lambda: meta(Fn.meta_loss, replace={"x_support": S.xs, "y_support": S.ys}), V,
     r"x_support must have shape \(N, K, 1\)"),
    ("meta_loss-tasks-differ", lambda: meta(Fn.meta_loss, replace={"x_query": torch.zeros(2, 6, 1),
                                                                    "y_query": torch.zeros(2, 6, 1)}), V,
     r"x_query must hold the same tasks N and features as x_support"),
    ("meta_loss-first_order-string", lambda: meta(Fn.meta_loss, first_order="yes"), V,
     r"first_order must be True or False; got 'yes'"),
    ("meta_loss-model-string", lambda: meta(Fn.meta_loss, model="MLP"), V, r"model must be a torch\.nn\.Module"),
    ("meta_loss-diverges", lambda: meta(Fn.meta_loss, replace=big_batch(), inner_lr=2.0, n_inner_steps=10), D,
     r"meta_loss diverged: NaN or infinite after 10 inner steps at α = 2; try α below \d"),
    ("batched_meta_loss-diverges", lambda: meta(Fn.batched_meta_loss, replace=big_batch(), inner_lr=2.0,
                                                n_inner_steps=10), D, r"meta_loss diverged: .*try α below \d"),
    ("meta_gradient-params-frozen", lambda: meta(Fn.meta_gradient, params=Fn.get_params(S.mlp)), V,
     r"params must require grad to be differentiated"),
    ("meta_gradient-diverges", lambda: meta(Fn.meta_gradient, replace=big_batch(), inner_lr=2.0, n_inner_steps=10), D,
     r"diverged: NaN or infinite after 10 inner steps at α = 2; try α below \d"),
    ("meta_value_and_grad-x-int", lambda: meta(Fn.meta_value_and_grad, replace={
        "x_support": torch.zeros(3, 5, 1, dtype=torch.int32)}), V, r"x_support must hold floating-point values"),
    ("meta_value_and_grad-diverges", lambda: meta(Fn.meta_value_and_grad, replace=big_batch(), inner_lr=2.0,
                                                  n_inner_steps=10), D, r"diverged: .*try α below \d"),
    ("compiled-first_order-int", lambda: meta(compiled(), first_order=1), V, r"first_order must be True or False; got 1"),
    ("compiled-diverges", lambda: meta(compiled(), replace=big_batch(), inner_lr=2.0, n_inner_steps=10), D,
     r"meta_value_and_grad diverged: NaN or infinite after 10 inner steps at α = 2; try α below \d"),
    ("query_loss_curve-params-missing", lambda: meta(Fn.query_loss_curve, params=without(S.params, "2.bias")), V,
     r"params must hold exactly the model's parameters .*missing \['2\.bias'\]"),
    ("reptile_direction-unbatched", lambda: Fn.reptile_direction(S.mlp, S.params, S.xs, S.ys, inner_lr=0.1), V,
     r"x_support must have shape \(N, K, 1\)"),
    ("reptile_direction-diverges", lambda: Fn.reptile_direction(S.mlp, S.params, S.batch.x_support,
                                                                50 * S.batch.y_support, inner_lr=2.0,
                                                                n_inner_steps=10), D, r"reptile_direction diverged"),
    # -- functional: searches with a range, never a hang -------------------------------------------
    ("stable_inner_lr-n_iterations-huge", lambda: Fn.stable_inner_lr(S.mlp, S.params, S.xs, S.ys,
                                                                     n_iterations=10**9), V,
     r"n_iterations must be in \[1, 1000\]; got 1000000000"),
    ("stable_inner_lr-n_iterations-zero", lambda: Fn.stable_inner_lr(S.mlp, S.params, S.xs, S.ys, n_iterations=0), V,
     r"n_iterations must be in \[1, 1000\]; got 0"),
    ("stable_inner_lr-x-feature-width", lambda: Fn.stable_inner_lr(S.mlp, S.params, X31, S.ys), V,
     r"x must have shape \(K, 1\) for this model"),
    ("largest_stable_inner_lr-rtol-zero", lambda: Fn.largest_stable_inner_lr(S.mlp, S.params, S.xs, S.ys,
                                                                             n_inner_steps=5, high=5.0, rtol=0), V,
     r"rtol must be in \[1e-06, 1\]; got 0"),
    ("largest_stable_inner_lr-rtol-nan", lambda: Fn.largest_stable_inner_lr(S.mlp, S.params, S.xs, S.ys,
                                                                            n_inner_steps=5, high=5.0, rtol=NAN), V,
     r"rtol must be a finite number in \[1e-06, 1\]"),
    ("largest_stable_inner_lr-high-zero", lambda: Fn.largest_stable_inner_lr(S.mlp, S.params, S.xs, S.ys,
                                                                             n_inner_steps=5, high=0), V,
     r"high must be in \(0, 10\]; got 0"),
    ("largest_stable_inner_lr-y-broadcasts", lambda: Fn.largest_stable_inner_lr(S.mlp, S.params, S.xs, X31,
                                                                                n_inner_steps=5, high=1.0), V,
     r"y must have shape \(K, 1\), one target per output"),
    ("has_diverged-empty", lambda: Fn.has_diverged([]), V, r"losses must hold at least 1 number; got 0"),
    ("has_diverged-growth-zero", lambda: Fn.has_diverged([1.0, 2.0], growth=0), V,
     r"growth must be in \[1, inf\]; got 0"),
    ("has_diverged-string", lambda: Fn.has_diverged("loss"), V, r"losses must be a sequence of numbers; got str"),
    # -- MAML / JointTraining -------------------------------------------------------------------
    ("MAML.adapt-x-feature-width", lambda: S.maml.adapt(X31, S.ys), V,
     r"x_support must have shape \(K, 1\) for this model \(1 input feature per point\); got shape \(5, 3\)"),
    ("MAML.adapt-y-broadcasts", lambda: S.maml.adapt(S.xs, X31), V,
     r"y_support must have shape \(K, 1\), one target per output of the model; got shape \(5, 3\)"),
    ("MAML.adapt-trajectory-string", lambda: S.maml.adapt(S.xs, S.ys, trajectory="yes"), V,
     r"trajectory must be True or False; got 'yes'"),
    ("MAML.adapt-diverges", lambda: S.maml.adapt(S.xs, 50 * S.ys, inner_lr=2.0, n_inner_steps=10), D,
     r"adapt diverged: NaN or infinite after 10 inner steps at α = 2; try α below \d"),
    ("MAML.predict-params-missing", lambda: S.maml.predict(S.xs, without(S.maml.params_, "0.weight")), V,
     r"params must hold exactly the model's parameters .*missing \['0\.weight'\]"),
    ("MAML.predict-params-nan", lambda: S.maml.predict(S.xs, with_param(S.maml.params_, "4.bias",
                                                                        torch.full((1,), NAN))), V,
     r"params\['4\.bias'\] must be finite"),
    ("MAML.predict-x-int", lambda: S.maml.predict(torch.zeros(5, 1, dtype=torch.int64)), V,
     r"x must hold floating-point values"),
    ("MAML.predict-overflows", lambda: S.maml.predict(torch.full((3, 1), 3e38)), D,
     r"predict gave NaN or infinite values"),
    ("MAML.score-diverges", lambda: S.maml.score(S.batch._replace(y_support=50 * S.batch.y_support),
                                                 inner_lr=2.0, n_inner_steps=10), D,
     r"score diverged: NaN or infinite after 10 inner steps at α = 2; try α below \d"),
    ("MAML.score-empty-query", lambda: S.maml.score(S.batch._replace(x_query=torch.zeros(3, 0, 1),
                                                                     y_query=torch.zeros(3, 0, 1))), V,
     r"x_query must hold at least 1 point per task"),
    ("MAML.score-y_query-broadcasts", lambda: S.maml.score(S.batch._replace(y_query=torch.zeros(3, 6, 3))), V,
     r"y_query must have shape \(N, K, 1\)"),
    ("MAML.score-tuple", lambda: S.maml.score(tuple(S.batch)), V, r"batch must be a TaskBatch; got tuple"),
    ("MAML.trace_adaptation-x_eval-width", lambda: S.maml.trace_adaptation(S.xs, S.ys, X31, S.ys), V,
     r"x_eval must have shape \(K, 1\) for this model"),
    ("MAML.query_loss_curve-string", lambda: S.maml.query_loss_curve("batch"), V, r"batch must be a TaskBatch; got str"),
    ("MAML.fit-compile-string", lambda: fit_maml(compile="no"), V, r"compile must be True or False; got 'no'"),
    ("MAML.fit-first_order-int", lambda: fit_maml(first_order=1), V, r"first_order must be True or False; got 1"),
    ("MAML.fit-schedule", lambda: fit_maml(outer_lr_schedule="linear"), V,
     r"outer_lr_schedule must be one of 'constant', 'cosine'; got 'linear'"),
    ("MAML.fit-model-string", lambda: fit_maml(model="mlp"), V, r"model must be a torch\.nn\.Module or None; got str"),
    ("MAML.fit-model-width", lambda: fit_maml(model=MLP((3, 8, 1))), V,
     r"x_support must have shape \(N, K, 3\) for this model \(3 input features per point\); got shape \(2, 3, 1\)"),
    ("MAML.fit-tasks-string", lambda: MAML(n_outer_steps=1).fit("sinusoid"), V,
     r"tasks must be a task family with a sample_batch method; got str"),
    ("MAML.fit-diverges", lambda: fit_maml(inner_lr=10.0, n_inner_steps=10), D,
     r"MAML\.fit, step 1: meta_loss diverged: NaN or infinite after 10 inner steps at α = 10; try α below \d"),

    ("JointTraining.fit-inner_lr-nan", lambda: JointTraining(inner_lr=NAN, n_outer_steps=1).fit(SinusoidTasks()), V,
     r"inner_lr must be a finite number in \[0, 10\]"),
    ("MAML.load-nan-weights", lambda: saved_maml_with_nan(tempfile.mkdtemp()), W,
     r"does not fit the network .*must be finite.*Save it again|does not fit the network .*must be finite.*Regenerate"),
    # -- task families -----------------------------------------------------------------------------
    ("LineTasks-slope_range", lambda: LineTasks(slope_range=(2.0, 1.0)), V,
     r"^(?!.*amplitude)slope_range\[1\] must be in \(2, inf\]; got 1"),
    ("LineTasks-intercept_range", lambda: LineTasks(intercept_range="x"), V,
     r"^(?!.*phase)intercept_range must be a pair \(low, high\) with low < high; got 'x'"),
    ("LineTasks.sample_points-slope-nan", lambda: LineTasks().sample_points(NAN, 0.0, 5), V,
     r"^slope must be a finite number"),
    ("SinusoidTasks.sample_batch-dtype-string", lambda: SinusoidTasks().sample_batch(2, 5, 5, dtype="float32"), V,
     r"dtype must be a floating torch dtype \(torch\.float32 or torch\.float64\); got 'float32'"),
    ("SinusoidTasks.sample_batch-no-query", lambda: SinusoidTasks().sample_batch(2, 5, 0), V,
     r"n_query must be in \[1, 100000\]; got 0"),
    ("SinusoidTasks.mean_function-int", lambda: SinusoidTasks().mean_function(torch.arange(3)), V,
     r"x must hold floating-point values"),
    ("QueryIsSupport-string", lambda: QueryIsSupport("sinusoid"), V, r"tasks must be a task family"),
    # -- MAMLClassifier ---------------------------------------------------------------------------
    ("MAMLClassifier.adapt-labels-too-large", lambda: S.classifier.adapt(S.images, S.labels + 5), V,
     r"y_support must hold class labels in \[0, 4\]; got \d+"),
    ("MAMLClassifier.adapt-labels-float", lambda: S.classifier.adapt(S.images, S.labels.float()), V,
     r"y_support must hold integer class labels in \[0, 4\]"),
    ("MAMLClassifier.adapt-image-size", lambda: S.classifier.adapt(torch.zeros(5, 1, 10, 10), S.labels), V,
     r"x_support must have shape \(K, 1, 8, 8\) for this model \(1-channel 8×8 images\)"),
    ("MAMLClassifier.adapt-channels", lambda: S.classifier.adapt(torch.zeros(5, 3, 8, 8), S.labels), V,
     r"x_support must have shape \(K, 1, 8, 8\)"),
    ("MAMLClassifier.adapt-trajectory-int", lambda: S.classifier.adapt(S.images, S.labels, trajectory=1), V,
     r"trajectory must be True or False; got 1"),
    ("MAMLClassifier.predict-image-size", lambda: S.classifier.predict(torch.zeros(5, 1, 16, 16)), V,
     r"x must have shape \(K, 1, 8, 8\)"),
    ("MAMLClassifier.score-image-size", lambda: S.classifier.score(DigitsTasks(image_size=10).sample_episodes(
        1, 5, 1, 1, random_state=0)), V, r"batch must hold 1-channel 8×8 images for image_size=8; got images of shape "
                                         r"\(1, 10, 10\)"),
    ("MAMLClassifier.score-string", lambda: S.classifier.score("batch"), V, r"batch must be an EpisodeBatch"),
    ("MAMLClassifier.score-overflows", lambda: overflowing_classifier().score(S.episodes), D,
     r"score diverged: NaN or infinite after 3 inner steps at α = 0\.4"),
    ("MAMLClassifier.fit-first_order-int", lambda: MAMLClassifier(image_size=8, first_order=1).fit(S.digits), V,
     r"first_order must be True or False; got 1"),
    ("MAMLClassifier.fit-tasks-string", lambda: MAMLClassifier(image_size=8).fit("digits"), V,
     r"tasks must be an episode family with sample_episodes; got str"),
    ("MAMLClassifier.fit-tasks-image-size", lambda: MAMLClassifier(image_size=10).fit(S.digits), V,
     r"tasks must draw 10-pixel images for image_size=10; got 8"),
    # -- MetaLSTM ---------------------------------------------------------------------------------
    ("MetaLSTM.adapt-labels-too-large", lambda: S.meta_lstm.adapt(S.images, S.labels + 5), V,
     r"y_support must hold class labels in \[0, 4\]"),
    ("MetaLSTM.adapt-image-size", lambda: S.meta_lstm.adapt(torch.zeros(5, 1, 12, 12), S.labels), V,
     r"x_support must have shape \(K, 1, 8, 8\)"),
    ("MetaLSTM.adapt-gates-not-pair", lambda: S.meta_lstm.adapt(S.images, S.labels, gates=0.5), V,
     r"gates must be None or a pair \(f, i\) of a forget gate in \[0, 1\] and an input gate in \[0, 10\]; got 0\.5"),
    ("MetaLSTM.adapt-gates-forget", lambda: S.meta_lstm.adapt(S.images, S.labels, gates=(2.0, 0.1)), V,
     r"forget gate must be in \[0, 1\]; got 2"),
    ("MetaLSTM.trace-x_query-size", lambda: S.meta_lstm.trace(S.images, S.labels, torch.zeros(5, 1, 9, 9), S.labels),
     V, r"x_query must have shape \(K, 1, 8, 8\)"),
    ("MetaLSTM.predict-channels", lambda: S.meta_lstm.predict(torch.zeros(5, 2, 8, 8)), V,
     r"x must have shape \(K, 1, 8, 8\)"),
    ("tune_sgd_lr-estimator-string", lambda: tune_sgd_lr("meta_lstm", S.digits), V,
     r"estimator must be a fitted MetaLSTM; got str"),
    ("tune_sgd_lr-grid-empty", lambda: tune_sgd_lr(S.meta_lstm, S.digits, grid=()), V,
     r"grid must list 1 to 100 learning rates in \(0, 10\]; got 0"),
    ("tune_sgd_lr-grid-zero", lambda: tune_sgd_lr(S.meta_lstm, S.digits, grid=(0.0,)), V,
     r"grid value must be in \(0, 10\]; got 0"),
    ("compare_on_episode-maml-string", lambda: compare_on_episode(S.meta_lstm, "maml", 0.1, S.images, S.labels,
                                                                  S.images, S.labels), V,
     r"maml must be a fitted MAMLClassifier; got str"),
    # -- FineTuneClassifier -------------------------------------------------------------------------
    ("FineTuneClassifier.adapt-labels-float", lambda: S.finetune.adapt(S.images, S.labels.float()), V,
     r"y_support must hold integer class labels in \[0, 4\]"),
    ("FineTuneClassifier.adapt-image-size", lambda: S.finetune.adapt(torch.zeros(5, 1, 20, 20), S.labels), V,
     r"x_support must have shape \(K, 1, 8, 8\)"),
    ("FineTuneClassifier.predict-params-missing", lambda: S.finetune.predict(S.images, dict(S.finetune.backbone_)), V,
     r"params must hold exactly the model's parameters .*missing \['head\.weight', 'head\.bias'\]"),
    ("FineTuneClassifier.accuracy_curve-image-size", lambda: S.finetune.accuracy_curve(DigitsTasks(image_size=12)
                                                                             .sample_episodes(1, 5, 1, 1, 0)), V,
     r"batch must hold 1-channel 8×8 images for image_size=8"),
    ("FineTuneClassifier.fit-strategy", lambda: FineTuneClassifier(strategy="freeze", image_size=8).fit(S.digits), V,
     r"strategy must be one of \['fine_tune', 'feature_extraction', 'scratch'\]; got 'freeze'"),
    # -- DomainAdaptationClassifier --------------------------------------------------------------
    ("DomainAdaptationClassifier.fit-labels-float", lambda: DomainAdaptationClassifier(n_steps=1).fit(S.moons[0], S.moons[1].float(),
                                                                                 S.moons[0]), V,
     r"y_source must hold integer class labels in \[0, 999\] \(torch\.int64\); got dtype torch\.float32"),
    ("DomainAdaptationClassifier.fit-labels-huge", lambda: DomainAdaptationClassifier(n_steps=1).fit(S.moons[0], S.moons[1] * 10**6,
                                                                                S.moons[0]), V,
     r"y_source must hold class labels in \[0, 999\]; got 1000000"),
    ("DomainAdaptationClassifier.fit-method-int", lambda: DomainAdaptationClassifier(3).fit(*S.moons, S.moons[0]), V,
     r"method must be one of 'source_only', 'coral', 'dann'; got 3"),
    ("DomainAdaptationClassifier.score-labels-beyond-classes", lambda: S.domain.score(S.moons[0], S.moons[1] + 5), V,
     r"y must hold class labels in \[0, 1\]; got \d"),
    ("DomainAdaptationClassifier.predict-width", lambda: S.domain.predict(torch.zeros(4, 3)), V,
     r"x must have 2 features per row \(after flattening\), as in training; got 3"),
    ("project_features-model-string", lambda: project_features("model", S.moons[0], S.moons[0]), V,
     r"model must be a fitted DomainAdaptationClassifier; got str"),
    # -- evaluation ------------------------------------------------------------------------------
    ("mean_ci95-nan", lambda: mean_ci95([1.0, NAN]), V, r"values must be finite"),
    ("mean_ci95-empty", lambda: mean_ci95([]), V, r"values must hold at least 1 score; got 0"),
    ("mean_ci95-string", lambda: mean_ci95("abc"), V, r"values must be a sequence of numbers; got str"),
    ("evaluate_episodes-estimator-string", lambda: evaluate_episodes("maml", S.digits), V,
     r"estimator must have an episode_accuracy\(batch\) method"),
    ("evaluate_episodes-tasks-string", lambda: evaluate_episodes(PixelNearestNeighbour(), "digits"), V,
     r"tasks must be an episode family with sample_episodes"),
    ("sgd_accuracy_curve-batch-string", lambda: sgd_accuracy_curve(S.conv, S.conv_params, "batch", inner_lr=0.1,
                                                                   n_steps=1), V, r"batch must be an EpisodeBatch"),
    ("sgd_accuracy_curve-labels-beyond-model", lambda: sgd_accuracy_curve(
        ConvNet(3, 4, 8), Fn.get_params(ConvNet(3, 4, 8)), S.episodes, inner_lr=0.1, n_steps=1), V,
     r"y_support must hold class labels in \[0, 2\]; got 4"),
    ("sgd_accuracy_curve-image-size", lambda: sgd_accuracy_curve(
        S.conv, S.conv_params, DigitsTasks(image_size=10).sample_episodes(1, 5, 1, 1, 0), inner_lr=0.1,
        n_steps=1), V, r"x_support must have shape \(N, K, 1, 8, 8\)"),
    # -- landscape (lesson 02) ---------------------------------------------------------------------
    ("meta_gradient_parts-eps-zero", lambda: landscape.meta_gradient_parts(S.line_batch, 0.5, 0.5, inner_lr=0.1,
                                                                           eps=0), V, r"eps must be in \(0, 0\.1\]; got 0"),
    ("objective_grids-batch-string", lambda: landscape.objective_grids("batch", inner_lr=0.1), V,
     r"batch must be a TaskBatch"),
    ("objective_grids-limits-number", lambda: landscape.objective_grids(S.line_batch, inner_lr=0.1, limits=3), V,
     r"limits must be a pair \(low, high\) with low < high; got 3"),
    ("numerical_maml_optimum-n_inner_steps-huge", lambda: landscape.numerical_maml_optimum(
        S.line_batch, inner_lr=0.1, n_inner_steps=10**9), V, r"n_inner_steps must be in \[0, 100\]; got 1000000000"),
    ("adapted_points-inner_lr-negative", lambda: landscape.adapted_points(S.line_batch, 0.5, 0.5, inner_lr=-1), V,
     r"inner_lr must be in \[0, 10\]; got -1"),
    # -- lessons 08-10: metric-based, first-order, feature reuse, meta-RL ----------------------------
    ("PrototypicalNetwork-n_way", lambda: PrototypicalNetwork(n_way=1, image_size=8, n_outer_steps=0).fit(S.digits),
     V, r"n_way must be in \[2, 20\]; got 1"),
    ("PrototypicalNetwork-k_shot", lambda: PrototypicalNetwork(k_shot=0, image_size=8, n_outer_steps=0).fit(S.digits),
     V, r"k_shot must be in \[1, 19\]; got 0"),
    ("PrototypicalNetwork-outer_lr-nan", lambda: PrototypicalNetwork(outer_lr=NAN, image_size=8).fit(S.digits), V,
     r"outer_lr must be a finite number in \(0, 1\]; got nan"),
    ("PrototypicalNetwork-score-image-size", lambda: S.protonet.score(
        GlyphTasks("evaluation", image_size=28).sample_episodes(1, 5, 1, 2, random_state=0)), V,
     r"batch must hold 1-channel 8×8 images for image_size=8; got images of shape \(1, 28, 28\)"),
    ("PrototypicalNetwork-predict-float-labels", lambda: S.protonet.predict(S.images, S.labels.float(), S.images), V,
     r"y_support must hold integer class labels .*got dtype torch.float32"),
    ("PrototypicalNetwork-predict-nan", lambda: S.protonet.predict(S.images * NAN, S.labels, S.images), V,
     r"x must be finite"),
    ("PrototypicalNetwork-score-string", lambda: S.protonet.score("episodes"), V,
     r"batch must be an EpisodeBatch \(from sample_episodes\); got str"),
    ("NearestCentroid-model-string", lambda: NearestCentroid("conv", S.conv_params), V,
     r"model must be a ConvNet; got str"),
    ("NearestCentroid-backbone-empty", lambda: NearestCentroid(S.conv, {}), V,
     r"backbone must hold exactly the conv blocks' parameters"),
    ("prototypes-label-out-of-range", lambda: prototypes(torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 9]), 5), V,
     r"labels must hold class labels in \[0, 4\]; got 9"),
    ("prototypes-float-labels", lambda: prototypes(torch.randn(5, 3), torch.zeros(5), 5), V,
     r"labels must hold integer class labels"),
    ("prototypes-label-count", lambda: prototypes(torch.randn(5, 3), torch.tensor([0, 1, 2, 3]), 4), V,
     r"labels must have shape \(5,\), one label per row of embeddings; got shape \(4,\)"),
    ("prototypes-missing-class", lambda: prototypes(torch.randn(4, 3), torch.tensor([0, 1, 2, 3]), 5), V,
     r"labels must give every class 0…4 a support image; classes \[4\] have none"),
    ("prototypes-nan", lambda: prototypes(torch.full((2, 3), NAN), torch.tensor([0, 1]), 2), V,
     r"embeddings must be finite"),
    ("FOMAML-inner_lr-negative", lambda: FOMAML(inner_lr=-1, n_outer_steps=1).fit(SinusoidTasks()), V,
     r"inner_lr must be in \[0, 10\]; got -1"),
    ("Reptile-inner_lr-nan", lambda: Reptile(inner_lr=NAN, n_outer_steps=1).fit(SinusoidTasks()), V,
     r"inner_lr must be a finite number in \[0, 10\]; got nan"),
    ("Reptile-n_inner_steps-zero", lambda: Reptile(n_inner_steps=0, n_outer_steps=1).fit(SinusoidTasks()), V,
     r"n_inner_steps must be in \[1, 100\]; got 0"),
    ("Reptile-outer_lr-negative", lambda: Reptile(outer_lr=-1, n_outer_steps=1).fit(SinusoidTasks()), V,
     r"outer_lr must be in \(0, 1\]; got -1"),
    ("HeadAdapter-n_inner_steps", lambda: HeadAdapter(S.conv, S.conv_params, inner_lr=0.1, n_inner_steps=-1), V,
     r"n_inner_steps must be in \[0, 100\]; got -1"),
    ("HeadAdapter-inner_lr-nan", lambda: HeadAdapter(S.conv, S.conv_params, inner_lr=NAN, n_inner_steps=1), V,
     r"inner_lr must be a finite number in \[0, 10\]; got nan"),
    ("HeadAdapter-adapt-labels", lambda: HeadAdapter(S.conv, S.conv_params, inner_lr=0.1, n_inner_steps=1).adapt(
        S.images, S.labels + 5), V, r"y_support must hold class labels in \[0, 4\]; got 9"),
    ("HeadAdapter-adapt-image-size", lambda: HeadAdapter(S.conv, S.conv_params, inner_lr=0.1, n_inner_steps=1).adapt(
        torch.randn(5, 1, 28, 28), S.labels), V, r"x_support must have shape \(K, 1, 8, 8\) for this model"),
    ("linear_cka-rows", lambda: linear_cka(torch.randn(5, 3), torch.randn(4, 3)), V,
     r"x and y must be \(n, p\) and \(n, q\) with the same n ≥ 2; got \(5, 3\) and \(4, 3\)"),
    ("NavigationPolicy-mode", lambda: NavigationPolicy(mode="x").fit(), V,
     r"mode must be one of 'maml', 'pretrained'; got 'x'"),
    ("NavigationPolicy-hidden", lambda: NavigationPolicy(hidden=0).fit(), V, r"hidden must be in \[1, 1024\]; got 0"),
    ("NavigationPolicy-adapt-goal-outside", lambda: S.navigation.adapt(torch.tensor([[5.0, 0.0]])), V,
     r"goals must lie in the arena \[-0.5, 0.5\]²"),
    ("NavigationPolicy-adapt-n_steps", lambda: S.navigation.adapt(torch.tensor([[0.1, 0.0]]), n_steps=100), V,
     r"n_steps must be in \[0, 10\]; got 100"),
    ("NavigationPolicy-adapt-n_rollouts", lambda: S.navigation.adapt(torch.tensor([[0.1, 0.0]]), n_rollouts=0), V,
     r"n_rollouts must be in \[2, 200\]; got 0"),
    ("NavigationPolicy-adapt-goal-string", lambda: S.navigation.adapt("goal"), V,
     r"goals must be a torch.Tensor; got str"),
    ("check_goal-nan", lambda: check_goal(NAN, 0), V, r"goal_x must be a finite number in \[-0.5, 0.5\]; got nan"),
    ("sample_goals-zero", lambda: sample_goals(0), V, r"n_tasks must be in \[1, 1000\]; got 0"),
    ("returns_to_go-discount", lambda: returns_to_go(torch.randn(3, 5), discount=2), V,
     r"discount must be in \[0, 1\]; got 2"),
    ("returns_to_go-integer-rewards", lambda: returns_to_go(torch.ones(3, 5, dtype=torch.long)), V,
     r"rewards must be a floating torch.Tensor"),
    ("returns_to_go-nan", lambda: returns_to_go(torch.full((3, 5), NAN)), V, r"rewards must be finite"),
    ("GlyphTasks-split", lambda: GlyphTasks("x"), V, r"split must be one of \['all', 'background', 'evaluation'\]"),
    ("GlyphTasks-image_size", lambda: GlyphTasks(image_size=3), V, r"image_size must be in \[8, 64\]; got 3"),
    ("GlyphTasks-n_way", lambda: GlyphTasks().sample_episodes(1, 10**6, 1, 1), V, r"n_way must be in \[2, \d+\]"),
    ("DigitsTasks-n_way", lambda: S.digits.sample_episodes(1, 11, 1, 1), V, r"n_way must be in \[2, 10\]; got 11"),
    ("own_task-tasks-string", lambda: own_task("glyphs", seed=0), V,
     r"tasks must be an episode family with sample_episodes; got str"),
    ("own_task-seed-negative", lambda: own_task(GlyphTasks("evaluation"), seed=-1), V, r"seed must be in \[0, "),
    ("check_answers-incomplete", lambda: check_answers([0, None], own_task(GlyphTasks("evaluation"), seed=0)), V,
     r"answers must hold one label per query image \(10\); got 2"),
    ("ANILClassifier.fit-inner_lr-nan", lambda: ANILClassifier(image_size=8, channels=4, inner_lr=NAN,
                                                                n_outer_steps=0).fit(S.digits), V,
     r"inner_lr must be a finite number in \[0, 10\]; got nan"),
    ("ANILClassifier.fit-n_way", lambda: ANILClassifier(image_size=8, channels=4, n_way=1, n_outer_steps=0).fit(S.digits),
     V, r"n_way must be in \[2, 20\]; got 1"),
    ("ANILClassifier.warm_start-list", lambda: ANILClassifier(image_size=8).warm_start([1, 2]), V,
     r"backbone must be a dict of tensors named like the ConvNet's parameters; got list"),
    ("ANILClassifier.warm_start-wrong-keys", lambda: ANILClassifier(image_size=8, channels=4, n_outer_steps=0)
     .warm_start({"x": torch.zeros(1)}).fit(S.digits), V, r"backbone must hold the conv blocks"),
    ("ANILClassifier.adapt-labels", lambda: S.anil.adapt(S.images, S.labels + 5), V,
     r"y_support must hold class labels in \[0, 4\]; got 9"),
    ("ANILClassifier.adapt-image-size", lambda: S.anil.adapt(torch.randn(5, 1, 28, 28), S.labels), V,
     r"x_support must have shape \(K, 1, 8, 8\) for this model"),
    ("ANILClassifier.adapt-nan", lambda: S.anil.adapt(S.images * NAN, S.labels), V, r"x_support must be finite"),
    ("ANILClassifier.accuracy_curve-n_inner_steps", lambda: S.anil.accuracy_curve(S.episodes, n_inner_steps=-1), V,
     r"n_inner_steps must be in \[0, 100\]; got -1"),
    ("ANILClassifier.score-string", lambda: S.anil.score("x"), V,
     r"batch must be an EpisodeBatch \(from sample_episodes\); got str"),
    ("ReptileClassifier.fit-outer_lr", lambda: ReptileClassifier(image_size=8, channels=4, outer_lr=2.0,
                                                                   n_outer_steps=0).fit(S.digits), V,
     r"outer_lr must be .*\(0, 1\]; got 2"),
    ("ReptileClassifier.fit-tasks-string", lambda: ReptileClassifier(image_size=8, n_outer_steps=1).fit("glyphs"), V,
     r"tasks must be an episode family with sample_episodes; got str"),
    # -- networks ----------------------------------------------------------------------------------
    ("MLP-one-size", lambda: MLP([1]), V, r"sizes must list at least 2 layer widths"),
    ("MLP-zero-width", lambda: MLP([1, 0]), V, r"sizes\[1\] must be in \[1, 4096\]; got 0"),
    ("ConvNet-n_way", lambda: ConvNet(n_way=1), V, r"n_way must be in \[2, 10000\]; got 1"),
]


@pytest.mark.parametrize("call, exception, message", [pytest.param(*row[1:], id=row[0]) for row in ROWS])
def test_bad_input_raises_naming_the_parameter(call, exception, message):
    """If this fails, a student's bad call reaches a torch traceback, a hang or a silent NaN
    instead of one message saying what to change."""
    with pytest.raises(exception, match=message):
        call()


def test_the_table_is_large_and_its_ids_unique():
    """If this fails, rows were lost or two rows share an id (pytest would run only one)."""
    ids = [row[0] for row in ROWS]
    assert len(ids) == len(set(ids)) and len(ids) >= 130


def _public_estimators():
    """Every concrete estimator class the package defines (subclasses of Estimator outside _base)."""
    import importlib
    import inspect
    import pkgutil

    found = set()
    for info in pkgutil.walk_packages(mtlviz.__path__, "mtlviz."):
        if info.name.startswith(("mtlviz.serve", "mtlviz.widgets")):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, Estimator) and value.__module__ == module.__name__
                    and not name.startswith("_") and module.__name__ != "mtlviz._base"):
                found.add(name)
    return found


def test_every_estimator_has_bad_input_rows():
    """If this fails, a new estimator reached the lessons without a row here: nothing checks that a
    student's bad hyperparameter or bad episode gets a message instead of a torch traceback."""
    covered = {re.split(r"[-.]", row[0])[0] for row in ROWS}
    estimators = _public_estimators()
    assert {"MAML", "PrototypicalNetwork", "NavigationPolicy"} <= estimators  # the search itself works
    missing = sorted(name for name in estimators
                     if name not in covered and name not in ESTIMATORS_COVERED_BY_THEIR_PARENT)
    assert not missing, f"estimators without a bad-input row: {missing}"


#: Estimators that only fix a parent's setting and inherit all of its checks (rows for the parent).
ESTIMATORS_COVERED_BY_THEIR_PARENT = {"GradientAdaptedRegressor": "MAML's base: every MAML row runs its checks"}


def test_divergence_error_is_a_documented_runtime_error():
    """If this fails, the dashboards' guard (ValueError/RuntimeError -> one line) would let it through."""
    assert issubclass(DivergenceError, RuntimeError)
    assert mtlviz.DivergenceError is Fn.DivergenceError is mtlviz.meta.maml.DivergenceError
    assert "DivergenceError" in mtlviz.__all__ and "try α below" in DivergenceError.__doc__ + Fn.inner_lr_hint(0.31)


def test_inner_lr_hint_is_the_dashboards_message():
    """If this fails, the error and the dashboards' warning suggest different α."""
    assert Fn.inner_lr_hint(0.317) == "try α below 0.31"
    assert Fn.inner_lr_hint(None) == "try a smaller α"
    trace = mtlviz.meta.maml.AdaptationTrace(*(None,) * 3, True, 0.317)
    assert trace.divergence_message() == "diverged: try α below 0.31"


def test_a_diverging_setting_is_flagged_by_trace_adaptation_not_raised():
    """If this fails, lesson 03's dashboard shows an error instead of its warning line at a large α."""
    trace = S.maml.trace_adaptation(S.xs, 50 * S.ys, S.xs, S.ys, inner_lr=2.0, n_inner_steps=10)
    assert trace.diverged and trace.divergence_message().startswith("diverged: try α below")
    curve = S.maml.query_loss_curve(S.batch._replace(y_support=50 * S.batch.y_support), inner_lr=2.0, n_inner_steps=10)
    assert not bool(torch.isfinite(curve[:, -1]).all())  # a curve carries the NaN, for drawing


def test_each_public_call_scans_its_support_set_once(monkeypatch):
    """If this fails, a check is repeated on the way down (issue 17: x_support was scanned 2-3 times per call)."""
    scans = []
    real = torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: (scans.append(t), real(t))[1])
    xs, ys = S.xs.clone(), S.ys.clone()
    for call in (lambda: S.maml.adapt(xs, ys), lambda: S.maml.trace_adaptation(xs, ys, S.xs, S.ys),
                 lambda: Fn.adapt(S.mlp, S.params, xs, ys, inner_lr=0.1)):
        scans.clear()
        call()
        assert sum(t is xs for t in scans) == 1


class _Diverging(Estimator):
    """An estimator whose third training loss is NaN (after its checked first step)."""

    _step_sizes = (("lr", ""),)

    def __init__(self, lr: float = 0.5):
        self.lr = lr

    def _training_steps(self):
        self.params_ = {}
        yield from (1.0, 4.0, NAN, 1.0)


def test_fit_raises_at_the_first_non_finite_loss_and_keeps_it_in_its_history():
    """If this fails, meta-training goes on with NaN (MAML.fit checks its first batch only, so later
    steps rely on this float check), or a dashboard drawing the live history loses the step."""
    estimator = _Diverging()
    with pytest.raises(DivergenceError, match=r"_Diverging\.fit diverged at step 3: the training loss is nan; "
                                              r"try a smaller lr \(now 0\.5\)"):
        estimator.fit()
    assert estimator.history_[:2] == [1.0, 4.0] and math.isnan(estimator.history_[2]) and len(estimator.history_) == 3


def test_meta_lstm_score_raises_when_its_learner_diverges_and_the_curve_does_not():
    """A Meta-LSTM whose learner blew up scored 20% (chance) with nothing said; now score says
    it diverged, while accuracy_curve (a curve, used to look at divergence) still returns."""
    from mtlviz.data.glyphs import GlyphTasks
    from mtlviz.pretrained import load_glyph_metalstm

    model = load_glyph_metalstm(1)
    episodes = GlyphTasks("evaluation", image_size=20).sample_episodes(2, 5, 1, 5, random_state=0)
    assert model.score(episodes) > 0.5
    with torch.no_grad():
        model.meta_.c0.mul_(1e35)  # a start the learned updates overflow from
    assert model.accuracy_curve(episodes).shape == (2, model.n_inner_steps + 1)
    with pytest.raises(DivergenceError, match=r"score diverged: .* in 2 of 2 episodes; try fewer n_inner_steps"):
        model.score(episodes)


def test_domain_adaptation_predict_refuses_inputs_that_overflow_the_network():
    """Inputs near float32's limit gave NaN logits and argmax 0 for every point, silently."""
    from mtlviz.pretrained import load_two_moons_da

    model = next(iter(load_two_moons_da().values()))
    with pytest.raises(DivergenceError, match="predict gave NaN or infinite outputs: x is too large"):
        model.predict(torch.full((3, 2), 3e38))
    assert model.predict(torch.zeros(3, 2)).shape == (3,)

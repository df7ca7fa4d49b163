"""MAML and first-order MAML as a scikit-learn-shaped estimator.

References
----------
Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
ICML 2017. Taught in ``notebooks/03_maml_inner_and_outer_loop.ipynb``.
"""
from __future__ import annotations

from ._estimator import GradientAdaptedRegressor

__all__ = ["MAML"]


class MAML(GradientAdaptedRegressor):
    """Model-Agnostic Meta-Learning: learn θ such that a few steps θ' = θ − α∇θL fit a new task.

    Each outer step samples ``meta_batch_size`` tasks, adapts θ to each task's ``k_shot``
    support points with ``n_inner_steps`` inner steps of size α (``inner_lr``), and moves θ by
    Adam with step β (``outer_lr``) down the gradient of the summed query losses
    Σᵢ L_Tᵢ(θ'ᵢ). The gradient flows through the inner updates (second order) unless
    ``first_order=True``.

    Parameters
    ----------
    model : nn.Module, optional
        The architecture f_θ; re-initialised from ``random_state``. Default: the 1-40-40-1 ReLU
        regressor of the paper.
    inner_lr : float, default 0.01
        α, in [0, 10].
    outer_lr : float, default 1e-3
        β, Adam's step, in (0, 1].
    n_inner_steps : int, default 1
        Inner steps in training and the default for :meth:`adapt`, in [0, 100].
    meta_batch_size : int, default 25
        Tasks per outer step, in [1, 10000].
    n_outer_steps : int, default 1000
        Outer steps that :meth:`fit` runs.
    k_shot, k_query : int, default 10
        Support and query points per training task.
    first_order : bool, default False
        First-order MAML: ignore the second-order term of the meta-gradient.
    compile : bool, default False
        Compute the meta-gradient under ``torch.compile`` (:func:`mtlviz.functional.compile_meta_value_and_grad`):
        on the sinusoid MLP about 2x faster per meta-gradient than the eager batched path (30x
        the plain per-task loop, ``benchmarks/maml_speed.py``) after a first-call compile of
        about 12 s cold; falls back to eager with one warning where compiling fails.
    outer_lr_schedule : {"constant", "cosine"}, default "constant"
        β throughout, or β decayed along a half cosine to 0 at the last outer step (a steadier
        final θ in a short run; ``python -m mtlviz.pretrained.train_sinusoid`` uses it).
    random_state : int, torch.Generator or None
        Seeds the initial θ and the task sampling.

    Attributes
    ----------
    model_ : nn.Module
        The architecture (its own parameters are not used).
    params_ : dict of str to Tensor
        The meta-learned θ.
    history_ : list of float
        The meta-loss of every outer step.

    Examples
    --------
    >>> from mtlviz import MAML, SinusoidTasks
    >>> maml = MAML(n_outer_steps=10, random_state=0).fit(SinusoidTasks())
    >>> len(maml.history_)
    10
    """

    _kind = "maml"

"""Transfer learning routines.

So far: the pretrain-then-fine-tune baseline that MAML is compared with. One network is
trained by ordinary regression on examples pooled from all training tasks, then fine-tuned on
a new task by the same gradient steps MAML's inner loop takes.
"""
from __future__ import annotations

from ._estimator import GradientAdaptedRegressor

__all__ = ["JointTraining"]


class JointTraining(GradientAdaptedRegressor):
    """Pretrain one network on all tasks pooled, then fine-tune it on a new task.

    The training objective is Σᵢ L_Tᵢ(θ): MAML's objective with no inner step (α = 0). With
    task families like the sinusoids, whose tasks disagree at every x, it learns roughly their
    average, which fine-tuning from a handful of points struggles to leave. It takes the same
    hyperparameters as :class:`mtlviz.MAML`; ``inner_lr`` and ``n_inner_steps`` only set the
    defaults of :meth:`adapt` (fine-tuning).

    References
    ----------
    Finn, Abbeel & Levine, ICML 2017, section 5.1 ("pretrained" baseline).
    """

    _kind = "joint"

    @property
    def _train_inner_steps(self) -> int:
        return 0

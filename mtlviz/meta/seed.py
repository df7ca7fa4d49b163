"""The seed text's MAML code example (§5), and what it takes to make it right.

The seed shows a TensorFlow snippet with real bugs; lesson 04 shows it verbatim, explains each
bug and runs the corrected version (:func:`mtlviz.meta.maml.outer_step`). The dashboard of that
lesson compares MAML trained with and without the two fixes that change what is learned.
"""
from __future__ import annotations

from typing import Dict, NamedTuple

import torch

from .. import functional
from .._validation import check_int
from ..data.tasks import QueryIsSupport, SinusoidTasks
from ..nets import sinusoid_mlp
from .maml import MAML, outer_step

__all__ = ["SEED_SNIPPET", "Variant", "VARIANTS", "variant_estimator", "variant_tasks", "corrected_training"]

#: The code example of seed §5, verbatim (TensorFlow; shown as text, never run).
SEED_SNIPPET = 'import tensorflow as tf\n\ndef maml(model, x, y, inner_lr, outer_lr):\n  with tf.GradientTape() as outer_tape:\n    with tf.GradientTape() as inner_tape:\n      y_pred = model(x)\n      loss = tf.keras.losses.categorical_crossentropy(y, y_pred)\n    grads = inner_tape.gradient(loss, model.trainable_variables)\n    updated_model = tf.nest.map_structure(lambda v, g: v - inner_lr * g,\n                                         model.trainable_variables, grads)\n    y_pred = updated_model(x)\n    loss = tf.keras.losses.categorical_crossentropy(y, y_pred)\n  grads = outer_tape.gradient(loss, model.trainable_variables)\n  optimizer.apply_gradients(zip(grads, model.trainable_variables))\n'


class Variant(NamedTuple):
    """One way of meta-training: with or without the seed's query-set and task-batch bugs."""

    label: str
    separate_query: bool
    meta_batch_size: int


#: The corrected recipe and the seed's two learning bugs, alone and together.
VARIANTS: Dict[str, Variant] = {
    "corrected": Variant("corrected: query set + 25 tasks", True, 25),
    "no_query_set": Variant("bug: query set = support set", False, 25),
    "one_task": Variant("bug: one task per outer step", True, 1),
    "both_bugs": Variant("both bugs (the seed as written)", False, 1),
}


#: Bug 3 is a variance choice more than a bug: at equal outer steps the one-task variant also sees
#: 25x fewer tasks. This run gives it 25x the outer steps, so it sees as many tasks as the
#: corrected recipe (lesson 04 compares the two). Not part of the dashboard's 2 x 2 of bugs.
EQUAL_TASKS = "one_task_equal_tasks"
ALL_VARIANTS: Dict[str, Variant] = {
    **VARIANTS, EQUAL_TASKS: Variant("one task per step, 25x the steps", True, 1)}
#: Outer steps of each variant, as a multiple of the shared count (``n_outer_steps``).
STEP_FACTOR: Dict[str, int] = {EQUAL_TASKS: VARIANTS["corrected"].meta_batch_size}


def _check_variant(name: str) -> None:
    if name not in ALL_VARIANTS:
        raise ValueError(f"name must be one of {sorted(ALL_VARIANTS)}; got {name!r}")


def variant_tasks(name: str):
    """The task family a variant trains on (support reused as query for the query-set bug)."""
    _check_variant(name)
    tasks = SinusoidTasks()
    return tasks if ALL_VARIANTS[name].separate_query else QueryIsSupport(tasks)


def variant_estimator(name: str, *, n_outer_steps: int = 3000, random_state: int = 0) -> MAML:
    """An unfitted MAML set up like variant ``name`` (of :data:`ALL_VARIANTS`): fit it on
    ``variant_tasks(name)``; it runs ``n_outer_steps`` times its :data:`STEP_FACTOR` outer steps.

    All variants share everything else (network, θ's initialisation, α = 0.01, one inner step,
    K = 5, Adam β = 1e-3), so their differences come from the bugs alone.
    """
    _check_variant(name)
    return MAML(inner_lr=0.01, outer_lr=1e-3, n_inner_steps=1, meta_batch_size=ALL_VARIANTS[name].meta_batch_size,
                n_outer_steps=n_outer_steps * STEP_FACTOR.get(name, 1), k_shot=5, k_query=10,
                random_state=random_state)


def corrected_training(n_steps: int = 300, report_every: int = 100) -> Dict[int, float]:
    """The seed's example, corrected, run as a training loop (lesson 04): the meta-loss every
    ``report_every`` outer steps, ``{step: meta-loss}``. Lesson 04 shows this source and the
    shipped result (``python -m mtlviz.pretrained.figures seed_corrected_training``)."""
    n_steps = check_int("n_steps", n_steps, 1, 100_000)
    report_every = check_int("report_every", report_every, 1, 100_000)
    model = sinusoid_mlp(seed=0)  # 1-40-40-1 ReLU network, seeded initial θ
    params = functional.get_params(model, requires_grad=True)
    outer_lr = 1e-3
    outer_optimizer = torch.optim.Adam(params.values(), lr=outer_lr)  # bug 4 fixed: defined once, uses β
    tasks = SinusoidTasks()
    generator = torch.Generator().manual_seed(0)
    losses = {}
    for step in range(1, n_steps + 1):
        batch = tasks.sample_batch(n_tasks=25, n_support=5, n_query=10, random_state=generator)  # bugs 2, 3 fixed
        meta_loss = outer_step(model, params, outer_optimizer, batch, inner_lr=0.01)
        if step % report_every == 0:
            losses[step] = meta_loss
    return losses

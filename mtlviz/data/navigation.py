"""The 2-D point-robot navigation tasks of MAML's reinforcement-learning experiment (lesson 10).

A point agent starts at the origin of the plane; its state is its position, its action a velocity
``(dx, dy)`` that the environment clips to ``[-0.1, 0.1]`` per coordinate; after each step it
receives minus its distance to the goal. A *task* is one goal, drawn uniformly from the square
``[-0.5, 0.5]²`` (the arena). Everything is batched: ``(T, R, 2)`` positions for ``T`` tasks
(goals) times ``R`` rollouts each, so one call moves every agent of a meta-batch at once.

One simplification against the paper: an episode always lasts the full horizon (the paper also
ends it when the agent is within 0.01 of the goal); an agent that sits on the goal then collects
rewards near 0, so returns are comparable but not identical to the paper's.

References
----------
Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
ICML 2017, section 5.3 ("2D navigation"). Taught in ``notebooks/10_meta_rl_point_robot.ipynb``.
"""
from __future__ import annotations

from typing import Tuple

import torch

from .._validation import check_int, check_random_state, check_real, check_tensor

__all__ = ["ARENA", "MAX_ACTION", "HORIZON", "check_goals", "check_goal", "sample_goals", "start_positions",
           "step", "MAX_TASKS", "MAX_ROLLOUTS", "MAX_HORIZON"]

#: Goals lie in [-ARENA, ARENA]² (the paper's task distribution).
ARENA = 0.5
#: Each velocity coordinate is clipped to [-MAX_ACTION, MAX_ACTION].
MAX_ACTION = 0.1
#: Steps per episode (the paper's H = 100).
HORIZON = 100
MAX_TASKS = 1000
MAX_ROLLOUTS = 200
MAX_HORIZON = 500


def check_goal(goal_x, goal_y) -> Tuple[float, float]:
    """One goal inside the arena, as two floats (``ValueError`` naming the coordinate otherwise)."""
    x = check_real("goal_x", goal_x, -ARENA, ARENA)
    y = check_real("goal_y", goal_y, -ARENA, ARENA)
    return x, y


def check_goals(goals) -> torch.Tensor:
    """A ``(T, 2)`` float tensor of goals, every coordinate in ``[-ARENA, ARENA]``."""
    goals = check_tensor("goals", goals, ndim=2, last_dims=(2,), min_first=1, floating=True)
    if goals.shape[0] > MAX_TASKS:
        raise ValueError(f"goals must hold at most {MAX_TASKS} goals; got {goals.shape[0]}")
    if bool((goals.abs() > ARENA).any()):
        worst = float(goals.abs().max())
        raise ValueError(f"goals must lie in the arena [-{ARENA:g}, {ARENA:g}]² (the task distribution); "
                         f"got a coordinate of magnitude {worst:g}")
    return goals


def sample_goals(n_tasks: int, random_state=None) -> torch.Tensor:
    """``n_tasks`` goals drawn uniformly from the arena, ``(n_tasks, 2)``; seeded by ``random_state``
    (None, an int or a ``torch.Generator``)."""
    n_tasks = check_int("n_tasks", n_tasks, 1, MAX_TASKS)
    generator = check_random_state(random_state)
    return (torch.rand(n_tasks, 2, generator=generator) * 2.0 - 1.0) * ARENA


def start_positions(n_tasks: int, n_rollouts: int) -> torch.Tensor:
    """Every agent starts at the origin: ``(n_tasks, n_rollouts, 2)`` zeros."""
    return torch.zeros(n_tasks, n_rollouts, 2)


def step(positions: torch.Tensor, actions: torch.Tensor, goals: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Move every agent by its clipped action and reward it with minus its new distance to its goal.

    positions, actions : (T, R, 2); goals : (T, 2). Returns ``(new_positions, rewards)`` of shapes
    ``(T, R, 2)`` and ``(T, R)``. Internal (no checks): callers validate goals once per rollout.
    """
    new_positions = positions + actions.clamp(-MAX_ACTION, MAX_ACTION)  # s' = s + clip(a)
    rewards = -(new_positions - goals[:, None, :]).norm(dim=-1)  # r = −‖s' − goal‖
    return new_positions, rewards

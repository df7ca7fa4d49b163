"""Meta-reinforcement learning on the 2-D point robot (lesson 10): a Gaussian MLP policy,
REINFORCE with a baseline as the inner loop, and MAML's meta-gradient through it.

The pieces, each a plain function over a parameter dict (no module state):

- :func:`init_policy`, :func:`policy_mean`: the policy π_θ(a | s) = N(μ_θ(s), diag σ²), μ_θ a
  2-H-H-2 ReLU network and log σ a learned vector; parameters carry a leading task dimension
  ``T`` so that every task of a meta-batch can hold its own adapted θ'ᵢ;
- :func:`collect_rollouts`: ``R`` episodes per task, sampled with a seeded generator (the same
  seed gives the same trajectories);
- :func:`surrogate_loss`: REINFORCE with a baseline, L(θ) = −(1/RH) Σ log π_θ(aₜ|sₜ) Âₜ, whose
  gradient is the policy gradient; Âₜ is the discounted return-to-go minus the mean
  return-to-go of the task's *other* rollouts at the same time step (a baseline that does not
  depend on the rollout's own action, so the estimate stays unbiased), scaled per task to unit
  standard deviation;
- :func:`inner_step`: θ'ᵢ = θ − α ∇θ L_Tᵢ(θ) on the task's pre-update rollouts (when the outer
  step differentiates through it, with log π written as the ratio π_θ/⊥π_θ, whose second
  derivative keeps the term the plain loss misses: Rothfuss et al. 2019, "ProMP");
- :class:`NavigationPolicy`: ``mode="maml"`` meta-trains θ so that one inner step on 20
  rollouts gives a good policy for the new goal; ``mode="pretrained"`` trains one policy on
  all goals pooled (the paper's "pretrained" baseline); ``adapt`` runs the inner step 1, 2, 3
  times on a new goal and reports every stage.

The outer step. The paper used TRPO for the meta-update. Here the outer objective is the same
REINFORCE surrogate, evaluated on rollouts of the adapted policies π_θ'ᵢ and differentiated
through the inner step (second order, ``create_graph=True``), and θ moves by Adam with the
gradient norm clipped. Why not TRPO: its trust region needs conjugate gradients with
Hessian-vector products of a KL through the inner step and a line search, several times the
code and compute; on a 2-D task with 20 goals per meta-batch, Adam with a small step is stable
(the lesson shows the training curve) and keeps the whole outer step to a dozen readable lines.
The plain REINFORCE loss, differentiated twice, misses how θ changes the distribution of the
*pre*-update rollouts (the paper's implementation has the same gap); the ratio form of the inner
loss restores that curvature term at no cost (ProMP's low-variance curvature estimator, without
its trust region). Without it, MAML here stayed behind the pretrained policy after one step
(RESULTS.md, lesson 10).

References
----------
Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
ICML 2017, section 5.3 and figure 4 (top). Williams, "Simple statistical gradient-following algorithms
for connectionist reinforcement learning", 1992 (REINFORCE). Rothfuss, Lee, Clavera, Asfour & Abbeel,
"ProMP: Proximal Meta-Policy Search", ICLR 2019 (the low-variance curvature estimator). Taught in
``notebooks/10_meta_rl_point_robot.ipynb``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np
import torch

from .._base import Estimator
from .._validation import DivergenceError, check_bool, check_choice, check_int, check_random_state, check_real
from ..data import navigation as nav

__all__ = ["init_policy", "policy_mean", "expand_params", "Rollouts", "collect_rollouts", "log_probs",
           "returns_to_go", "advantages", "surrogate_loss", "inner_step", "NavigationPolicy", "NavigationAdaptation",
           "NAVIGATION_COMMAND", "MAX_ADAPT_STEPS", "MAX_INNER_LR", "DivergenceError"]

Params = Dict[str, torch.Tensor]
NAVIGATION_COMMAND = "python -m mtlviz.pretrained.train_navigation"
#: The most inner steps ``adapt`` runs (the dashboard shows 3).
MAX_ADAPT_STEPS = 10
#: The largest inner step size α accepted.
MAX_INNER_LR = 100.0
#: Discount of the return-to-go in the advantage (the reported returns are undiscounted).
DISCOUNT = 0.99
MODES = ("maml", "pretrained")
#: The fresh policy's output layer is scaled by this (mean actions near 0).
OUTPUT_INIT_SCALE = 0.01
_LOG_2PI = math.log(2.0 * math.pi)


# -- the policy -------------------------------------------------------------------------------

def init_policy(hidden: int, init_std: float, generator: torch.Generator) -> Params:
    """Fresh policy parameters (no task dimension): PyTorch's default ``nn.Linear`` initialisation
    (uniform ±1/√fan_in) for the 2-H-H-2 mean network with the output layer scaled by 0.01, so
    that a fresh policy's mean action is near 0 (a random walk, not a dash at full speed in one
    direction: the usual choice for policy networks), and log σ = log(init_std) for both actions."""
    sizes = [(2, hidden), (hidden, hidden), (hidden, 2)]
    params: Params = {}
    for layer, (fan_in, fan_out) in enumerate(sizes):
        bound = 1.0 / math.sqrt(fan_in)
        params[f"w{layer}"] = (torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * bound
        params[f"b{layer}"] = (torch.rand(fan_out, generator=generator) * 2 - 1) * bound
        if layer == len(sizes) - 1:
            params[f"w{layer}"] *= OUTPUT_INIT_SCALE
            params[f"b{layer}"] *= OUTPUT_INIT_SCALE
    params["log_std"] = torch.full((2,), math.log(init_std))
    return params


def expand_params(params: Params, n_tasks: int) -> Params:
    """Shared θ as one copy per task, ``(T, ...)`` (a view: gradients flow back to θ)."""
    return {name: value.unsqueeze(0).expand(n_tasks, *value.shape) for name, value in params.items()}


def policy_mean(params: Params, observations: torch.Tensor) -> torch.Tensor:
    """μ_θ(s) for per-task parameters ``(T, ...)`` and observations ``(T, N, 2)`` -> ``(T, N, 2)``."""
    hidden = torch.relu(torch.baddbmm(params["b0"].unsqueeze(1), observations, params["w0"]))
    hidden = torch.relu(torch.baddbmm(params["b1"].unsqueeze(1), hidden, params["w1"]))
    return torch.baddbmm(params["b2"].unsqueeze(1), hidden, params["w2"])


class Rollouts(NamedTuple):
    """``R`` episodes of each of ``T`` tasks under one policy per task.

    observations, actions : (T, R, H, 2), the state before each step and the sampled (unclipped)
    action; rewards : (T, R, H); positions : (T, R, H + 1, 2), the path from the origin.
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    positions: torch.Tensor

    def returns(self) -> torch.Tensor:
        """Average undiscounted return per task, ``(T,)``."""
        return self.rewards.sum(-1).mean(-1)


@torch.no_grad()
def collect_rollouts(params: Params, goals: torch.Tensor, n_rollouts: int, horizon: int,
                     generator: torch.Generator, *, noise_copies: int = 1) -> Rollouts:
    """Run ``n_rollouts`` episodes of ``horizon`` steps per goal with aₜ ~ N(μ_θ(sₜ), σ²).

    ``params`` are per task ``(T, ...)``; ``goals`` ``(T, 2)``. Internal: arguments are checked by
    the public callers. The noise comes from ``generator`` only, so a seed fixes the episodes.
    With ``noise_copies`` = P, the T tasks are P blocks of T / P that draw the same noise (several
    policies on the same goals, as :func:`adapt_together` runs them: each as if run alone).
    """
    n_tasks = goals.shape[0]
    position = nav.start_positions(n_tasks, n_rollouts)
    std = params["log_std"].exp().unsqueeze(1)  # (T, 1, 2)
    if noise_copies > 1:
        std = std.reshape(noise_copies, n_tasks // noise_copies, 1, 2)  # a block's noise is broadcast to all
    observations, actions, rewards, positions = [], [], [], [position]
    for _ in range(horizon):
        noise = torch.randn(n_tasks // noise_copies, n_rollouts, 2, generator=generator)
        action = policy_mean(params, position) + (std * noise).reshape(n_tasks, n_rollouts, 2)  # a ~ N(μ_θ(s), σ²)
        observations.append(position)
        actions.append(action)
        position, reward = nav.step(position, action, goals)
        rewards.append(reward)
        positions.append(position)
    return Rollouts(torch.stack(observations, 2), torch.stack(actions, 2), torch.stack(rewards, 2),
                    torch.stack(positions, 2))


def log_probs(params: Params, rollouts: Rollouts) -> torch.Tensor:
    """log π_θ(aₜ | sₜ) of every recorded step under per-task ``params``: ``(T, R, H)``."""
    n_tasks, n_rollouts, horizon, _ = rollouts.actions.shape
    mean = policy_mean(params, rollouts.observations.reshape(n_tasks, n_rollouts * horizon, 2))
    log_std = params["log_std"].unsqueeze(1)  # (T, 1, 2)
    z = (rollouts.actions.reshape(n_tasks, -1, 2) - mean) * torch.exp(-log_std)
    log_density = -0.5 * z.pow(2) - log_std - 0.5 * _LOG_2PI  # per action coordinate
    return log_density.sum(-1).reshape(n_tasks, n_rollouts, horizon)


def returns_to_go(rewards: torch.Tensor, discount: float = DISCOUNT) -> torch.Tensor:
    """Gₜ = Σ_{k ≥ t} γ^{k−t} r_k along the last dimension (time) of ``rewards``, γ = ``discount``
    in [0, 1]. Checks its inputs (lesson 10's exercise); the training loop calls the unchecked
    :func:`_returns_to_go` on rewards it made itself."""
    discount = check_real("discount", discount, 0.0, 1.0)
    if not isinstance(rewards, torch.Tensor) or not rewards.is_floating_point() or rewards.ndim < 1 \
            or rewards.shape[-1] < 1:
        raise ValueError("rewards must be a floating torch.Tensor with time along its last dimension; got "
                         + (f"{rewards.dtype} of shape {tuple(rewards.shape)}" if isinstance(rewards, torch.Tensor)
                            else type(rewards).__name__))
    if not bool(torch.isfinite(rewards).all()):
        raise ValueError("rewards must be finite; it holds NaN or infinite values")
    return _returns_to_go(rewards, discount)


def _returns_to_go(rewards: torch.Tensor, discount: float) -> torch.Tensor:
    to_go = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[..., 0])
    for t in reversed(range(rewards.shape[-1])):  # Gₜ = rₜ + γ Gₜ₊₁
        running = rewards[..., t] + discount * running
        to_go[..., t] = running
    return to_go


def advantages(rewards: torch.Tensor, discount: float = DISCOUNT) -> torch.Tensor:
    """Âₜ for rewards ``(T, R, H)``: discounted return-to-go minus the leave-one-out mean of the
    task's other rollouts at step t, divided by the task's standard deviation of Â (R ≥ 2)."""
    n_rollouts = rewards.shape[1]
    to_go = _returns_to_go(rewards, discount)
    baseline = (to_go.sum(1, keepdim=True) - to_go) / (n_rollouts - 1)  # mean of the other rollouts
    advantage = to_go - baseline
    scale = advantage.reshape(advantage.shape[0], -1).std(1).clamp_min(1e-8)
    return advantage / scale[:, None, None]


def surrogate_loss(params: Params, rollouts: Rollouts, *, curvature: bool = False) -> torch.Tensor:
    """REINFORCE with a baseline, per task: −(1/RH) Σ log π_θ(aₜ|sₜ) Âₜ, ``(T,)``. Its gradient is
    minus the policy-gradient estimate of ∇θ E[return] (up to the advantage's scale).

    ``curvature=True`` writes each log π as the likelihood ratio π_θ / ⊥π_θ (⊥: detached), equal
    to 1 in value: the *gradient* is the same, but the second derivative then also holds the
    term ∇log π ∇log π^T Âₜ that comes from the rollouts' own dependence on θ, which the plain
    form lacks (Rothfuss et al. 2019, "ProMP", the low-variance curvature estimator). The MAML
    outer step differentiates through the inner step, so it sees this second derivative.
    """
    advantage = advantages(rollouts.rewards)
    log_prob = log_probs(params, rollouts)
    if curvature:
        log_prob = torch.exp(log_prob - log_prob.detach())  # π_θ/⊥π_θ: value 1, gradient ∇log π
    return -(log_prob * advantage).mean((1, 2))


def inner_step(params: Params, rollouts: Rollouts, inner_lr: float, *, create_graph: bool = False,
               curvature: Optional[bool] = None) -> Params:
    """θ'ᵢ = θᵢ − α ∇θ L_Tᵢ(θᵢ) for every task at once (per-task ``params`` ``(T, ...)``).

    Each task's loss depends only on its own slice, so the gradient of the summed losses is the
    per-task gradient. ``create_graph=True`` keeps the step differentiable (the MAML outer step),
    with the loss in ProMP's ratio form unless ``curvature=False`` (``surrogate_loss(...,
    curvature=True)``: the same step, a second derivative that includes the rollouts' dependence
    on θ; ``curvature`` defaults to ``create_graph``).
    Raises :class:`DivergenceError` when θ' is not finite.
    """
    losses = surrogate_loss(params, rollouts, curvature=create_graph if curvature is None else curvature)
    names = list(params)
    grads = torch.autograd.grad(losses.sum(), [params[n] for n in names], create_graph=create_graph)
    adapted = {name: params[name] - inner_lr * grad for name, grad in zip(names, grads)}  # θ' = θ − α∇θL
    if not all(bool(torch.isfinite(value).all()) for value in adapted.values()):
        raise DivergenceError(f"the inner policy-gradient step diverged: θ' is NaN or infinite at "
                              f"α = {inner_lr:g}; try a smaller inner_lr (α)")
    return adapted


# -- the estimator ----------------------------------------------------------------------------

@dataclass(frozen=True)
class NavigationAdaptation:
    """What adapting to new goals did, stage by stage (stage 0: before any step).

    returns : (n_steps + 1, T) array, average return of the stage's rollouts per goal
    positions : (n_steps + 1, T, R, H + 1, 2) array, the rollouts' paths
    goals : (T, 2) array
    """

    returns: np.ndarray
    positions: np.ndarray
    goals: np.ndarray


class NavigationPolicy(Estimator):
    """A Gaussian MLP policy for the point robot, meta-trained with MAML or pretrained on all goals.

    Parameters
    ----------
    mode : {"maml", "pretrained"}
        "maml": maximise the return *after* one inner step (the MAML objective); "pretrained":
        maximise the return of θ itself over goals drawn from the arena (no inner step).
    hidden : int
        Units per hidden layer of μ_θ (the paper: 100).
    init_std : float
        σ of the fresh policy (learned afterwards).
    inner_lr : float
        α of the inner policy-gradient step, in training (maml) and in ``adapt``.
    outer_lr : float
        β, Adam's step size for θ.
    n_outer_steps, meta_batch_size : int
        Training steps, and goals per step (the paper: 20 goals).
    n_rollouts, horizon : int
        Episodes per goal and per stage (the paper: 20), and steps per episode (100).
    max_grad_norm : float
        The outer gradient's norm is clipped to this.
    curvature : bool
        maml only: differentiate through the inner step with ProMP's ratio form of the loss
        (True, the shipped policy) or the plain REINFORCE loss (False, as the paper's code).
    random_state : int or None
        Seeds θ's initialisation and every training rollout.

    After ``fit`` (or ``load``): ``params_`` (θ, a dict of tensors) and ``history_`` (minus the
    average return of the training objective's rollouts at each step: after the inner step for
    maml, of θ itself for pretrained).
    """

    _kind = "navigation_policy"
    _regenerate_command = NAVIGATION_COMMAND
    _fit_hint = "fit() or load(path)"
    _step_sizes = (("inner_lr", "α"), ("outer_lr", "β"))

    def __init__(self, *, mode: str = "maml", hidden: int = 64, init_std: float = 0.1, inner_lr: float = 0.1,
                 outer_lr: float = 1e-3, n_outer_steps: int = 300, meta_batch_size: int = 20,
                 n_rollouts: int = 20, horizon: int = nav.HORIZON, max_grad_norm: float = 1.0,
                 curvature: bool = True, random_state: Optional[int] = 0):
        self.mode = mode
        self.hidden = hidden
        self.init_std = init_std
        self.inner_lr = inner_lr
        self.outer_lr = outer_lr
        self.n_outer_steps = n_outer_steps
        self.meta_batch_size = meta_batch_size
        self.n_rollouts = n_rollouts
        self.horizon = horizon
        self.max_grad_norm = max_grad_norm
        self.curvature = curvature
        self.random_state = random_state

    def _validate(self):
        check_choice("mode", self.mode, MODES)
        check_int("hidden", self.hidden, 1, 1024)
        check_real("init_std", self.init_std, 0.0, 10.0, low_inclusive=False)
        check_real("inner_lr", self.inner_lr, 0.0, MAX_INNER_LR)
        check_real("outer_lr", self.outer_lr, 0.0, 1.0, low_inclusive=False)
        check_int("n_outer_steps", self.n_outer_steps, 0, 1_000_000)
        check_int("meta_batch_size", self.meta_batch_size, 1, nav.MAX_TASKS)
        check_int("n_rollouts", self.n_rollouts, 2, nav.MAX_ROLLOUTS)
        check_int("horizon", self.horizon, 1, nav.MAX_HORIZON)
        check_real("max_grad_norm", self.max_grad_norm, 0.0, None, low_inclusive=False)
        check_bool("curvature", self.curvature)

    def _training_steps(self) -> Iterator:
        generator = check_random_state(self.random_state)
        self.params_ = {name: value.requires_grad_() for name, value in
                        init_policy(self.hidden, self.init_std, generator).items()}
        optimizer = torch.optim.Adam(self.params_.values(), lr=self.outer_lr)
        for _ in range(self.n_outer_steps):
            goals = nav.sample_goals(self.meta_batch_size, generator)
            theta = expand_params(self.params_, self.meta_batch_size)
            before = collect_rollouts(theta, goals, self.n_rollouts, self.horizon, generator)
            if self.mode == "maml":
                adapted = inner_step(theta, before, self.inner_lr, create_graph=True, curvature=self.curvature)  # θ'ᵢ, differentiable in θ
                after = collect_rollouts(adapted, goals, self.n_rollouts, self.horizon, generator)
                objective = surrogate_loss(adapted, after).mean()  # Σᵢ L_Tᵢ(θ'ᵢ) on post-update rollouts
                scored = after
            else:
                objective = surrogate_loss(theta, before).mean()
                scored = before
            optimizer.zero_grad()
            objective.backward()
            torch.nn.utils.clip_grad_norm_(self.params_.values(), self.max_grad_norm)
            optimizer.step()  # θ ← θ − β · Adam(∇θ)
            yield (-float(scored.returns().mean()),
                   {"return_before": float(before.returns().mean()), "return_after": float(scored.returns().mean())})

    # -- weights ------------------------------------------------------------------------------
    def _state(self):
        return {name: value.detach().clone() for name, value in self.params_.items()}

    def _restore(self, state):
        expected = {name: tuple(v.shape) for name, v in
                    init_policy(self.hidden, self.init_std, torch.Generator().manual_seed(0)).items()}
        found = {name: tuple(v.shape) for name, v in state.items()}
        if found != expected:
            raise ValueError(f"expected parameters {expected}; found {found}")
        self.params_ = {name: value.detach().clone().float() for name, value in state.items()}

    # -- test time ----------------------------------------------------------------------------
    def adapt(self, goals, *, n_steps: int = 3, n_rollouts: Optional[int] = None, inner_lr: Optional[float] = None,
              random_state=0) -> NavigationAdaptation:
        """Adapt θ to each goal of ``goals`` ``(T, 2)`` by ``n_steps`` inner steps, each on
        ``n_rollouts`` fresh rollouts of the current policy (default: the training's), with step
        size ``inner_lr`` (default: the training's α), and record every stage.

        ``random_state`` seeds the rollouts: the same seed gives the same trajectories and returns.
        Raises ``ValueError`` for goals outside the arena or counts out of range, and
        :class:`DivergenceError` when an inner step gives a non-finite policy.
        """
        self._check_fitted()
        goals = nav.check_goals(goals)
        n_steps = check_int("n_steps", n_steps, 0, MAX_ADAPT_STEPS)
        n_rollouts = check_int("n_rollouts", self.n_rollouts if n_rollouts is None else n_rollouts, 2,
                               nav.MAX_ROLLOUTS)
        inner_lr = check_real("inner_lr", self.inner_lr if inner_lr is None else inner_lr, 0.0, MAX_INNER_LR)
        return _adapt([self], goals, n_steps, n_rollouts, inner_lr, check_random_state(random_state))[0]


def _adapt(policies: Sequence["NavigationPolicy"], goals: torch.Tensor, n_steps: int, n_rollouts: int,
           inner_lr: float, generator: torch.Generator) -> List[NavigationAdaptation]:
    """:meth:`NavigationPolicy.adapt` for each of ``policies`` (same horizon and network shape)
    on the same ``goals``, as one batch whose policies draw the same noise: each policy's result
    is the one it gets adapting alone with the same seed. Arguments are checked by the callers."""
    n_goals, copies = goals.shape[0], len(policies)
    expanded = [expand_params(policy.params_, n_goals) for policy in policies]
    params = {name: torch.cat([block[name] for block in expanded]).detach() for name in expanded[0]}
    goals_all = goals.repeat(copies, 1)
    returns: List[np.ndarray] = []
    positions: List[np.ndarray] = []
    for stage in range(n_steps + 1):
        rollouts = collect_rollouts(params, goals_all, n_rollouts, policies[0].horizon, generator, noise_copies=copies)
        stage_returns = rollouts.returns()
        if not bool(torch.isfinite(stage_returns).all()):
            raise DivergenceError(f"adapting diverged: the rollouts after {stage} inner steps are not finite "
                                  f"at α = {inner_lr:g}; try a smaller inner_lr (α)")
        returns.append(stage_returns.numpy())
        positions.append(rollouts.positions.numpy())
        if stage < n_steps:
            params = {name: value.requires_grad_() for name, value in params.items()}
            with torch.enable_grad():
                params = inner_step(params, rollouts, inner_lr)
            params = {name: value.detach() for name, value in params.items()}
    returns_all, positions_all = np.stack(returns), np.stack(positions)
    return [NavigationAdaptation(returns_all[:, k * n_goals:(k + 1) * n_goals],
                                 positions_all[:, k * n_goals:(k + 1) * n_goals], goals.numpy().copy())
            for k in range(copies)]


def adapt_together(policies: Mapping[str, "NavigationPolicy"], goals, *, n_steps: int = 3,
                   random_state=0) -> Dict[str, NavigationAdaptation]:
    """``{name: policy.adapt(goals, n_steps=n_steps, random_state=random_state)}``, the same
    numbers, computed as one batch when the policies share their horizon, rollouts per step, α
    and network shape (lesson 10's MAML and pretrained policies): each stage's rollouts are one
    loop over the horizon instead of one per policy (35 ms instead of 52 for lesson 10's two, a
    goal click in its dashboard; issue 19). Policies that differ are adapted one by one."""
    policies = dict(policies)
    if not policies:
        raise ValueError("policies must name at least one fitted NavigationPolicy")
    for policy in policies.values():
        policy._check_fitted()

    def setting(policy):
        return (policy.horizon, policy.n_rollouts, policy.inner_lr,
                {name: tuple(value.shape) for name, value in policy.params_.items()})

    first = next(iter(policies.values()))
    if any(setting(policy) != setting(first) for policy in policies.values()):
        return {name: policy.adapt(goals, n_steps=n_steps, random_state=random_state) for name, policy in policies.items()}
    goals = nav.check_goals(goals)
    n_steps = check_int("n_steps", n_steps, 0, MAX_ADAPT_STEPS)
    results = _adapt(list(policies.values()), goals, n_steps, first.n_rollouts, first.inner_lr,
                     check_random_state(random_state))
    return dict(zip(policies, results))


__all__.append("adapt_together")


def random_policy(random_state: int = 0, **hyperparameters) -> NavigationPolicy:
    """An untrained policy (θ at its random initialisation), the third curve of the paper's
    figure 4; ``hyperparameters`` as :class:`NavigationPolicy`'s (``n_outer_steps`` is 0)."""
    return NavigationPolicy(mode="pretrained", n_outer_steps=0, random_state=random_state, **hyperparameters).fit()


__all__.append("random_policy")

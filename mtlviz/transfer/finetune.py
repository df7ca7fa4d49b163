"""Transfer by pretraining: fine-tuning and feature extraction of a conv net, per few-shot episode.

The transfer-learning answer to few-shot learning (seed §3.2): pretrain one network on every
image of the *source* classes as an ordinary classification problem, then, for a new task,
replace its output layer by a fresh one for the new classes and train on the few labelled
target images:

- **feature extraction**: the pretrained layers stay frozen, only the new head learns;
- **fine-tuning**: the top ``n_trainable_blocks`` conv blocks learn too (all of them by default);
- **from scratch**: the same network and training, from a random start (no transfer).

Each episode is adapted by ``n_inner_steps`` steps of gradient descent (step ``inner_lr``), batched over episodes with
``vmap`` like MAML's inner loop; the only difference from MAML is how the starting point was
trained.
"""
from __future__ import annotations

from typing import Dict, Iterator

import torch
from torch.func import vmap

from .. import functional as Fn
from .._validation import DivergenceError, check_int, check_random_state, check_real, draw_seed
from ..nets import ConvNet, accuracy, cross_entropy
from .._base import EpisodicEstimator, check_episodes

__all__ = ["FineTuneClassifier", "STRATEGIES"]

STRATEGIES = ("fine_tune", "feature_extraction", "scratch")
FINETUNE_REGENERATE_COMMAND = "python -m mtlviz.pretrained.train_glyphs --finetune"


class _PartialNetwork:
    """The network as a function of its trainable parameters only, the frozen ones fixed."""

    def __init__(self, model: ConvNet, frozen: Dict[str, torch.Tensor]):
        self.model, self.frozen = model, frozen

    def functional_forward(self, trainable, x):
        return self.model.functional_forward({**self.frozen, **trainable}, x)


def _block_of(name: str):
    """Conv block index of a parameter name, or None for the head."""
    if name.startswith("head"):
        return None
    return int(name.split(".")[1])


class FineTuneClassifier(EpisodicEstimator):
    """Pretrain a :class:`~mtlviz.nets.ConvNet` on the source classes, then adapt it to each
    episode with a new ``n_way`` head.

    Parameters
    ----------
    strategy : {"fine_tune", "feature_extraction", "scratch"}
        What learns per episode (see the module docstring).
    n_trainable_blocks : int or None
        With "fine_tune", how many of the top conv blocks learn (None: all); in [0, n_blocks].
    n_way, k_shot, channels, image_size
        Episode shape and network size, as for :class:`~mtlviz.meta.fewshot.MAMLClassifier`.
    inner_lr : float, default 0.1
        Step α of the per-episode gradient descent, in (0, 10] (the name every estimator gives its
        test-time step; files saved with the old name ``lr`` still load).
    n_inner_steps : int, default 20
        Gradient steps per episode, in [0, 1000] (old name ``n_steps``, mapped on load).
    pretrain_epochs : int, default 10
        Passes over the source images when pretraining, in [0, 1000].
    pretrain_lr : float, default 1e-3
        Adam's step when pretraining, in (0, 1].
    batch_size : int, default 128
        Pretraining mini-batch, in [2, 100000].
    random_state : int, torch.Generator or None
        Seeds the initialisation and the pretraining batches.
    """

    _kind = "fine-tune"
    _regenerate_command = FINETUNE_REGENERATE_COMMAND
    _fitted_attribute = "backbone_"
    _step_sizes = (("pretrain_lr", ""),)

    def __init__(self, *, strategy: str = "fine_tune", n_trainable_blocks=None, n_way: int = 5, k_shot: int = 1,
                 n_query: int = 5, channels: int = 32, image_size: int = 20, inner_lr: float = 0.1,
                 n_inner_steps: int = 20,
                 pretrain_epochs: int = 10, pretrain_lr: float = 1e-3, batch_size: int = 128, random_state=None):
        self.strategy = strategy
        self.n_trainable_blocks = n_trainable_blocks
        self.n_way = n_way
        self.k_shot = k_shot
        self.n_query = n_query
        self.channels = channels
        self.image_size = image_size
        self.inner_lr = inner_lr
        self.n_inner_steps = n_inner_steps
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_lr = pretrain_lr
        self.batch_size = batch_size
        self.random_state = random_state

    def _validate(self):
        self._validate_episode_shape()
        if not isinstance(self.strategy, str) or self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {list(STRATEGIES)}; got {self.strategy!r}")
        if self.n_trainable_blocks is not None:
            check_int("n_trainable_blocks", self.n_trainable_blocks, 0, 4)
        check_real("inner_lr", self.inner_lr, 0.0, 10.0, low_inclusive=False)
        check_int("n_inner_steps", self.n_inner_steps, 0, 1000)
        check_int("pretrain_epochs", self.pretrain_epochs, 0, 1000)
        check_real("pretrain_lr", self.pretrain_lr, 0.0, 1.0, low_inclusive=False)
        check_int("batch_size", self.batch_size, 2, 100_000)

    def _network(self, n_classes: int, seed: int) -> ConvNet:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return ConvNet(max(n_classes, 2), self.channels, self.image_size)

    # -- pretraining -----------------------------------------------------------------------
    def _training_steps(self, tasks) -> Iterator[float]:
        """Pretrain on every labelled image of ``tasks`` (``tasks.labelled_images()``), one
        mini-batch per iteration; "scratch" only initialises."""
        self._check_tasks(tasks)
        generator = check_random_state(self.random_state)
        if self.strategy == "scratch":
            self.initialise(draw_seed(generator))
            return
        x, y = tasks.labelled_images()
        n_classes = int(y.max()) + 1
        source = self._network(n_classes, draw_seed(generator))
        params = {name: p.detach().clone().requires_grad_(True) for name, p in source.named_parameters()}
        optimizer = torch.optim.Adam(params.values(), lr=self.pretrain_lr)
        for _ in range(self.pretrain_epochs):
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x) - 1, self.batch_size):
                index = order[start: start + self.batch_size]
                if len(index) < 2:
                    continue
                loss = cross_entropy(source.functional_forward(params, x[index]), y[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                yield float(loss.detach())
        backbone = {name: p.detach() for name, p in params.items() if not name.startswith("head")}
        self._set_backbone(backbone)

    def initialise(self, random_state=None) -> "FineTuneClassifier":
        """Start from random conv blocks (what "scratch" trains from); returns ``self``."""
        seed = draw_seed(check_random_state(random_state))
        source = self._network(self.n_way, seed)
        self._set_backbone({name: p.detach() for name, p in source.named_parameters() if not name.startswith("head")})
        return self

    def _set_backbone(self, backbone: Dict[str, torch.Tensor]) -> None:
        self.model_ = ConvNet(self.n_way, self.channels, self.image_size)
        self.backbone_ = backbone
        head = self.model_.head
        # A fresh head for the new classes: zero weights, so every class starts equally likely.
        self.head_ = {"head.weight": torch.zeros_like(head.weight), "head.bias": torch.zeros_like(head.bias)}

    # -- per-episode adaptation ------------------------------------------------------------
    def _on_set_params(self, before) -> None:
        """A fitted backbone stays; a new ``n_way`` gets a new zero head (what every episode starts from)."""
        for name in ("channels", "image_size"):
            if getattr(self, name) != before[name] and hasattr(self, "backbone_"):
                raise ValueError(f"{name} cannot change on a fitted {type(self).__name__}: the backbone was "
                                 f"trained with {name}={before[name]}")
        if hasattr(self, "backbone_"):
            self._set_backbone(self.backbone_)

    def trainable_names(self):
        """Names of the parameters that learn per episode under this strategy."""
        self._check_fitted()
        names = list(self.head_)
        if self.strategy == "feature_extraction":
            return names
        n_blocks = self.model_.n_blocks
        top = n_blocks if (self.strategy == "scratch" or self.n_trainable_blocks is None) else self.n_trainable_blocks
        return [name for name in self.backbone_ if _block_of(name) >= n_blocks - top] + names

    def _split(self):
        trainable = set(self.trainable_names())
        params = {**self.backbone_, **self.head_}
        return ({k: v for k, v in params.items() if k not in trainable},
                {k: v for k, v in params.items() if k in trainable})

    def _steps(self, frozen, trainable, xs, ys, n_steps):
        """The network's parameters after 0…n steps of θ ← θ − α∇θL (α = ``inner_lr``) on the trainable ones:
        the package's one inner loop (``functional.adapt_steps``) over a partial network."""
        partial = _PartialNetwork(self.model_, frozen)
        for step in Fn.adapt_steps(partial, trainable, xs, ys, self.inner_lr, n_steps, True, cross_entropy):
            yield {**frozen, **step}

    def adapt(self, x_support, y_support, *, n_inner_steps=None) -> Dict[str, torch.Tensor]:
        """The network's parameters after training on one episode's support set (images
        ``(n, 1, S, S)``, labels ``(n,)`` in [0, n_way − 1]). Parameters that became NaN or
        infinite raise :class:`~mtlviz.DivergenceError` with the ``inner_lr`` to try."""
        self._check_fitted()
        n_steps = self._n_steps(n_inner_steps)
        frozen, trainable = self._split()
        self._check_images(self.model_, {**frozen, **trainable}, x_support, y_support)
        with torch.enable_grad():
            *_, last = self._steps(frozen, trainable, x_support, y_support, n_steps)
        adapted = {k: v.detach() for k, v in last.items()}
        if not Fn._all_finite(adapted.values()):
            stable = Fn.largest_stable_inner_lr(_PartialNetwork(self.model_, frozen), trainable, x_support, y_support,
                                                n_inner_steps=max(n_steps, 1), high=min(self.inner_lr, Fn.MAX_INNER_LR),
                                                loss_fn=cross_entropy, check_inputs=False)
            hint = Fn.inner_lr_hint(stable if stable is not None and stable < self.inner_lr else None)
            raise DivergenceError(f"adapt diverged: NaN or infinite after {n_steps} steps at inner_lr = {self.inner_lr:g}; "
                                  f"{hint.replace('α', 'inner_lr')}")
        return adapted

    def _n_steps(self, n_inner_steps) -> int:
        """``n_inner_steps`` for one call: the given count, or the estimator's own."""
        return check_int("n_inner_steps", self.n_inner_steps if n_inner_steps is None else n_inner_steps, 0, 1000)

    def predict(self, x, params) -> torch.Tensor:
        """Labels for images ``(n, 1, S, S)`` with adapted ``params`` (from :meth:`adapt`)."""
        self._check_fitted()
        self._check_images(self.model_, params, x, None, x_name="x")
        with torch.no_grad():
            logits = self.model_.functional_forward(params, x)
        if not bool(torch.isfinite(logits).all()):
            raise DivergenceError("predict gave NaN or infinite logits: x is too large for this network")
        return logits.argmax(-1)

    def accuracy_curve(self, batch, *, n_inner_steps=None, every: int = 1) -> torch.Tensor:
        """Query accuracy of each episode after 0, every, 2·every, … steps, ``(T, n // every + 1)``."""
        self._check_fitted()
        check_episodes(batch, self.n_way, self.image_size)
        n_steps = self._n_steps(n_inner_steps)
        every = check_int("every", every, 1, 1000)
        frozen, trainable = self._split()

        def one_episode(xs, ys, xq, yq):
            steps = self._steps(frozen, trainable, xs, ys, n_steps)
            return torch.stack([accuracy(self.model_.functional_forward(p, xq), yq)
                                for i, p in enumerate(steps) if i % every == 0])

        with torch.enable_grad():
            return vmap(one_episode)(*batch.data).detach()

    # -- weights ---------------------------------------------------------------------------
    #: Hyperparameter names of files written before the rename to the package's inner-step names
    #: (``glyph_finetune.pt`` as shipped): old name -> new name.
    _RENAMED = {"lr": "inner_lr", "n_steps": "n_inner_steps"}

    @classmethod
    def _init_kwargs(cls, state):
        kwargs = dict(state["hyperparameters"])
        for old, new in cls._RENAMED.items():
            if old in kwargs and new not in kwargs:
                kwargs[new] = kwargs.pop(old)
        return kwargs

    def _state(self):
        return {name: t.clone() for name, t in self.backbone_.items()}

    def _restore(self, state):
        self._set_backbone({name: t.float() for name, t in state.items()})
        expected = {n: tuple(p.shape) for n, p in self.model_.named_parameters() if not n.startswith("head")}
        if expected != {n: tuple(t.shape) for n, t in state.items()}:
            raise ValueError("backbone shapes differ from the network's")

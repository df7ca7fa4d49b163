"""The one contract every mtlviz estimator follows (scikit-learn's shape, PyTorch inside).

- Hyperparameters are the keyword arguments of ``__init__``, stored untouched; ``get_params``,
  ``set_params`` and ``repr`` read their names from the ``__init__`` signature (as
  scikit-learn's ``_get_param_names``), so a new hyperparameter cannot be forgotten by one of
  them or by the weight files.
- ``fit(*data)`` runs ``fit_iter(*data)`` to the end and returns ``self``. ``fit_iter`` is the
  one training loop: it validates, then runs the subclass's ``_training_steps`` generator (one
  loss per optimisation step), keeps ``history_`` and yields one record per step,
  ``{"step", "loss", "seconds"}`` plus whatever extra the subclass reports.
- Learned attributes end in ``_``; using an estimator before ``fit``/``load`` raises one
  message, from ``_check_fitted``.
- ``save``/``load`` write and read one small ``.pt`` file read back with
  ``torch.load(..., weights_only=True)``; a subclass supplies ``_state`` and ``_restore``
  (and, where its architecture is not described by its hyperparameters, ``_extra_state`` and
  ``_init_kwargs``). Every problem with a file is a :class:`WeightsError` naming the command
  that regenerates it.
"""
from __future__ import annotations

import inspect
import itertools
import math
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import torch

from . import functional as Fn
from ._validation import DivergenceError, check_int
from .data.glyphs import EpisodeBatch
from .nets import cross_entropy

__all__ = ["Estimator", "EpisodicEstimator", "WeightsError", "DivergenceError", "read_weights", "compress_history",
           "check_episodes", "GLYPH_REGENERATE_COMMAND"]

GLYPH_REGENERATE_COMMAND = "python -m mtlviz.pretrained.train_glyphs"


class WeightsError(RuntimeError):
    """A weights file is missing, unreadable or does not match the estimator."""


def read_weights(path: Path, kind: str, keys: Sequence[str], hint: str) -> dict:
    """Read a file written by an estimator's ``save`` safely (``weights_only=True``) and check
    that it holds a model of ``kind`` with the entries ``keys``; errors end with ``hint``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing. {hint}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        found_kind = state["kind"]
    except Exception as error:  # any unreadable file gets the same actionable message
        raise WeightsError(f"weights file {path} is corrupt or not an mtlviz file ({error}). {hint}") from error
    if found_kind != kind:
        raise WeightsError(f"weights file {path} holds a {found_kind!r} model, not {kind!r}. {hint}")
    missing = [key for key in keys if key not in state]
    if missing:
        raise WeightsError(f"weights file {path} is corrupt or not an mtlviz file (missing {missing}). {hint}")
    return state


def history_chunk(n_steps: int, n_points: int = 500) -> int:
    """Training steps behind each point of :func:`compress_history`'s curve of ``n_steps`` losses."""
    return max(-(-n_steps // n_points), 1)  # ceil, one at least


def compress_history(history, n_points: int = 500) -> torch.Tensor:
    """The loss curve averaged over consecutive chunks, at most ``n_points`` long (weight files
    keep this, to stay small)."""
    values = torch.tensor(history, dtype=torch.float32)
    chunk = history_chunk(len(values), n_points)
    if chunk == 1:
        return values
    usable = len(values) // chunk * chunk
    return values[:usable].view(-1, chunk).mean(1)


class Estimator:
    """Base of every estimator: hyperparameters, the training loop, fitted checks, weight files.

    Subclasses set the class attributes below and define ``__init__`` (keyword hyperparameters
    stored as attributes of the same name), ``_validate`` (check them, raising ``ValueError``
    naming the parameter and its range) and ``_training_steps`` (a generator: set up the
    learned state, then one optimisation step per iteration, yielding its loss as a float, or
    ``(loss, extra_record_fields)``).
    """

    #: Written into weight files and checked on load; "" for an estimator without a file format.
    _kind: str = ""
    #: The learned attribute whose presence means "fitted".
    _fitted_attribute: str = "params_"
    #: What to call to fit one, for the not-fitted message.
    _fit_hint: str = "fit(tasks) or load(path)"
    #: The command that regenerates this estimator's shipped weights (named in WeightsError).
    _regenerate_command: Optional[str] = None
    #: Hyperparameters left out of ``repr`` and weight files (objects such as a model).
    _not_stored: Sequence[str] = ()
    #: (hyperparameter, symbol) of the step sizes a diverging ``fit`` names in its DivergenceError.
    _step_sizes: Sequence = ()

    # -- hyperparameters -------------------------------------------------------------------
    @classmethod
    def _get_param_names(cls) -> List[str]:
        """The hyperparameter names: ``__init__``'s arguments, in order."""
        names = []
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if name == "self":
                continue
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must name its hyperparameters (no *args/**kwargs)")
            names.append(name)
        return names

    def get_params(self) -> Dict[str, object]:
        """The hyperparameters, as passed to ``__init__`` (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params) -> "Estimator":
        """Change hyperparameters in place and return ``self``.

        Unknown names and values out of range raise ``ValueError`` and leave the estimator as it
        was. A fitted estimator keeps what it learned; settings that only shape how it is used
        (for example the adaptation steps) take effect at once.
        """
        names = self._get_param_names()
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"{type(self).__name__} has no hyperparameter {', '.join(map(repr, unknown))}; "
                             f"it has {', '.join(names)}")
        before = self.get_params()
        for name, value in params.items():
            setattr(self, name, value)
        try:
            self._validate()
            self._on_set_params(before)
        except Exception:
            for name, value in before.items():
                setattr(self, name, value)
            raise
        return self

    def _on_set_params(self, before: Dict[str, object]) -> None:
        """Hook: bring the learned state in line with changed hyperparameters (``before`` holds
        the old ones); raise ``ValueError`` if a change cannot apply to what was learned."""

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if k not in self._not_stored)
        return f"{type(self).__name__}({args})"

    def _validate(self):
        """Check the hyperparameters (``ValueError`` naming the parameter and its range)."""

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attribute):
            raise RuntimeError(f"This {type(self).__name__} is not fitted yet: call {self._fit_hint} first")

    # -- training --------------------------------------------------------------------------
    def fit(self, *data):
        """Train on ``data`` (what :meth:`fit_iter` takes) to the end; returns ``self``."""
        for _ in self.fit_iter(*data):
            pass
        return self

    def fit_iter(self, *data) -> Iterator[Dict[str, float]]:
        """Train like :meth:`fit`, yielding ``{"step", "loss", "seconds", ...}`` after each step.

        For live training in a widget: draw every few records, stop by no longer iterating.
        The learned state (and ``history_``, the loss of every step) is usable after every step.
        A loss that becomes NaN or infinite raises :class:`DivergenceError` naming the step sizes
        to lower (the loss is kept in ``history_`` first).
        """
        self._validate()
        self.history_ = []
        self._history_chunk = 1  # every step's loss (a loaded model's history holds chunk means)
        started = time.perf_counter()
        steps = self._training_steps(*data)
        for step in itertools.count(1):
            try:
                result = next(steps, None)
            except DivergenceError as error:  # a checked step found its own result non-finite
                raise DivergenceError(f"{type(self).__name__}.fit, step {step}: {error}") from error
            if result is None:
                return
            loss, extra = result if isinstance(result, tuple) else (result, {})
            self.history_.append(loss)
            if not math.isfinite(loss):  # a float: no cost on the training path
                raise DivergenceError(f"{type(self).__name__}.fit diverged at step {step}: the training loss is "
                                      f"{loss}; {self._step_size_hint()}")
            yield {"step": step, "loss": loss, "seconds": time.perf_counter() - started, **extra}

    def mean_training_loss(self, first_steps: int) -> float:
        """Mean training loss over the first ``first_steps`` training steps, from ``history_``.

        A loaded model's history is the loss averaged over chunks of ceil(steps / 500) steps
        (:func:`compress_history`), so ``first_steps`` is rounded down to whole chunks (one at least).
        """
        self._check_fitted()
        history = list(self.history_)
        chunk = getattr(self, "_history_chunk", 1)  # steps per stored point: 1 after fit, more once loaded
        check_int("first_steps", first_steps, 1, max(len(history) * chunk, 1))
        points = max(first_steps // chunk, 1)
        return float(sum(history[:points]) / points)

    def _step_size_hint(self) -> str:
        sizes = [f"{name} ({symbol} = {getattr(self, name):g})" if symbol else f"{name} (now {getattr(self, name):g})"
                 for name, symbol in self._step_sizes if isinstance(getattr(self, name, None), (int, float))]
        return f"try a smaller {' or '.join(sizes)}" if sizes else "try smaller step sizes"

    def _training_steps(self, *data) -> Iterator[float]:
        raise NotImplementedError(f"{type(self).__name__} does not define _training_steps")

    # -- weights ---------------------------------------------------------------------------
    def _state(self) -> Dict[str, torch.Tensor]:
        """The learned tensors a weight file keeps."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def _restore(self, state: Dict[str, torch.Tensor]) -> None:
        """Set the learned state from ``_state``'s dict; ``ValueError``/``KeyError``/``RuntimeError``
        when it does not fit the network the hyperparameters describe."""
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded")

    def _extra_state(self) -> Dict[str, object]:
        """More entries for the weight file (for example layer sizes not among the hyperparameters)."""
        return {}

    @classmethod
    def _init_kwargs(cls, state: dict) -> Dict[str, object]:
        """``__init__``'s arguments rebuilt from a weight file."""
        return dict(state["hyperparameters"])

    @classmethod
    def _hint(cls, regenerate_command: Optional[str]) -> str:
        command = regenerate_command or cls._regenerate_command
        return f"Regenerate the shipped weights with: {command}" if command else "Save it again with save(path)."

    def save(self, path) -> None:
        """Write the learned state and the hyperparameters to ``path`` (a small ``.pt`` file)."""
        self._check_fitted()
        if not self._kind:
            raise NotImplementedError(f"{type(self).__name__} has no weight file format")
        hyper = {k: v for k, v in self.get_params().items() if k not in self._not_stored}
        if "random_state" in hyper and not (hyper["random_state"] is None or isinstance(hyper["random_state"], int)):
            hyper["random_state"] = None  # a torch.Generator cannot be stored safely
        torch.save({"kind": self._kind, "hyperparameters": hyper, "params": self._state(),
                    "history": compress_history(getattr(self, "history_", [])),
                    "history_steps": len(getattr(self, "history_", [])), **self._extra_state()}, Path(path))

    @classmethod
    def load(cls, path, *, regenerate_command: Optional[str] = None):
        """Read an estimator written by :meth:`save`, safely (``weights_only=True``).

        Errors are :class:`WeightsError` naming ``regenerate_command`` (by default the class's
        own), the command that rebuilds the file.
        """
        path = Path(path)
        hint = cls._hint(regenerate_command)
        state = read_weights(path, cls._kind, ("hyperparameters", "params"), hint)
        try:
            kwargs = cls._init_kwargs(state)
            unknown = sorted(set(kwargs) - set(cls._get_param_names()))
            if unknown:
                raise ValueError(f"unknown hyperparameters {unknown}")
            estimator = cls(**kwargs)
            estimator._validate()
            estimator._restore(state["params"])
            if not _finite_tensors(estimator._state()):
                raise ValueError("the learned parameters must be finite; they hold NaN or infinite values")
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as error:
            raise WeightsError(f"weights file {path} does not fit the network its hyperparameters describe "
                               f"({error}). {hint}") from error
        history = state.get("history", torch.tensor([]))
        estimator.history_ = [float(v) for v in history] if isinstance(history, torch.Tensor) else []
        if not all(math.isfinite(v) for v in estimator.history_):
            raise WeightsError(f"weights file {path} holds a non-finite training curve. {hint}")
        # Steps behind each stored point (compress_history); files written before "history_steps"
        # was kept hold a complete training run of n_outer_steps.
        steps = state.get("history_steps", getattr(estimator, "n_outer_steps", None) or len(estimator.history_))
        if estimator.history_ and isinstance(steps, int) and steps > len(estimator.history_):
            estimator._history_chunk = history_chunk(steps)
        return estimator


def _finite_tensors(value) -> bool:
    """True if every tensor in ``value`` (a tensor, or dicts/lists of them) is finite."""
    if isinstance(value, torch.Tensor):
        return not value.is_floating_point() or bool(torch.isfinite(value).all())
    if isinstance(value, dict):
        return all(_finite_tensors(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite_tensors(v) for v in value)
    return True


def check_episodes(batch, n_way=None, image_size=None):
    """Refuse anything but an :class:`~mtlviz.data.glyphs.EpisodeBatch` of at most ``n_way`` classes
    and, where given, of ``image_size``-pixel images."""
    if not isinstance(batch, EpisodeBatch):
        raise ValueError(f"batch must be an EpisodeBatch (from sample_episodes); got {type(batch).__name__}")
    if n_way is not None and int(batch.y_support.max()) + 1 > n_way:
        raise ValueError(f"batch must hold {n_way}-way episodes (labels 0…{n_way - 1}) for this model; "
                         f"got labels up to {int(batch.y_support.max())}")
    if image_size is not None and tuple(batch.x_support.shape[-3:]) != (1, image_size, image_size):
        raise ValueError(f"batch must hold 1-channel {image_size}×{image_size} images for image_size={image_size}; "
                         f"got images of shape {tuple(batch.x_support.shape[-3:])}")



class EpisodicEstimator(Estimator):
    """What the few-shot estimators share: episode shape, task checks and scoring.

    Subclasses define ``_kind``, ``__init__``, ``_validate``, ``_training_steps``,
    ``accuracy_curve`` and the weight hooks ``_state``/``_restore`` (see :class:`~mtlviz._base.Estimator`).
    """

    _kind = "base"
    _regenerate_command = GLYPH_REGENERATE_COMMAND

    def _validate_episode_shape(self):
        check_int("n_way", self.n_way, 2, 20)
        check_int("k_shot", self.k_shot, 1, 19)
        check_int("n_query", self.n_query, 1, 19)
        check_int("channels", self.channels, 1, 256)
        check_int("image_size", self.image_size, 8, 64)

    def _check_tasks(self, tasks):
        if not hasattr(tasks, "sample_episodes"):
            raise ValueError(f"tasks must be an episode family with sample_episodes; got {type(tasks).__name__}")
        if tasks.image_size != self.image_size:
            raise ValueError(f"tasks must draw {self.image_size}-pixel images for image_size={self.image_size}; "
                             f"got {tasks.image_size}")

    def fit(self, tasks):
        """Meta-train on episodes drawn from ``tasks`` (a GlyphTasks, GlyphPool or DigitsTasks)."""
        return super().fit(tasks)

    def _check_images(self, model, params, x, y, x_name="x_support", y_name="y_support"):
        """The boundary check of one episode's images ``(n, 1, S, S)`` and labels ``(n,)`` in
        ``[0, n_way − 1]`` (``y=None``: images only) against the fitted network."""
        Fn.check_task(model, params, x, y, loss_fn=cross_entropy, x_name=x_name, y_name=y_name)

    def episode_accuracy(self, batch: EpisodeBatch) -> torch.Tensor:
        """Query accuracy of each episode after the test-time adaptation, ``(T,)``."""
        return self.accuracy_curve(batch)[:, -1]

    def score(self, batch: EpisodeBatch) -> float:
        """Mean query accuracy over the episodes of ``batch`` after adaptation."""
        return float(self.episode_accuracy(batch).mean())

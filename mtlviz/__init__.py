"""mtlviz: interactive lessons on meta-learning and transfer learning.

Import what the lessons use from here; the dashboards live in :mod:`mtlviz.widgets` and are
imported on demand (they pull in ipywidgets and ipympl).

The names below are loaded lazily, on first use: ``python -m mtlviz.serve`` imports this
package, and the server process has no use for torch (a few hundred MB and seconds of start-up).
"""
from importlib import import_module

__all__ = ["functional", "MAML", "JointTraining", "MLP", "sinusoid_mlp", "SinusoidTasks", "TaskBatch", "WeightsError",
           "DivergenceError"]
__version__ = "0.1.0"

# public name -> the submodule that defines it
_LAZY = {"functional": None, "WeightsError": "._base", "MAML": ".meta.maml", "MLP": ".nets",
         "sinusoid_mlp": ".nets", "SinusoidTasks": ".data.tasks", "TaskBatch": ".data.tasks", "JointTraining": ".meta.maml",
         "DivergenceError": "._validation"}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'mtlviz' has no attribute {name!r}")
    module = _LAZY[name]
    value = import_module(f".{name}", __name__) if module is None else getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

"""mtlviz: interactive lessons on meta-learning and transfer learning.

Import what the lessons use from here; the dashboards live in :mod:`mtlviz.widgets` and are
imported on demand (they pull in ipywidgets and ipympl).
"""
from . import functional
from ._estimator import WeightsError
from .maml import MAML
from .models import MLP, sinusoid_mlp
from .tasks import SinusoidTasks, TaskBatch
from .transfer import JointTraining

__all__ = ["functional", "MAML", "JointTraining", "MLP", "sinusoid_mlp", "SinusoidTasks", "TaskBatch", "WeightsError"]
__version__ = "0.1.0"

"""Dashboards: one composite widget class per lesson, wiring and layout only (no maths).

Importing this package changes nothing in the kernel: the served kernels' set-up (memory given
back after every cell, the theme's figure style) is done by ``python -m mtlviz.serve``'s start-up
(:mod:`mtlviz.serve.kernel`).

The dashboards are loaded on first use (``from mtlviz.widgets import EpisodeViewer`` imports
only :mod:`.episode_dashboard` and what it needs): a lesson's kernel does not import the other
lessons' dashboards and the estimators behind them at page open.
"""
from importlib import import_module

# public name -> the submodule that defines it
_LAZY = {"QueryBatchDashboard": ".batchnorm_dashboard", "DomainAdaptationDashboard": ".domain_dashboard",
         "EpisodeViewer": ".episode_dashboard", "FeatureReuseDashboard": ".first_order_dashboard",
         "FirstOrderDashboard": ".first_order_dashboard", "FormulaDashboard": ".formula_dashboard",
         "UpdateRulesDashboard": ".formula_dashboard", "CourseGuide": ".guide_dashboard",
         "course_map_html": ".guide_dashboard", "InnerOuterDashboard": ".maml_dashboard",
         "MetaLSTMDashboard": ".metalstm_dashboard", "NavigationDashboard": ".navigation_dashboard",
         "OwnTaskDashboard": ".own_task_dashboard", "ProtoNetDashboard": ".protonet_dashboard",
         "SeedBugsDashboard": ".seed_dashboard", "TaskPoolDashboard": ".task_pool_dashboard",
         "TransferDashboard": ".transfer_dashboard"}

__all__ = ["CourseGuide", "course_map_html", "DomainAdaptationDashboard", "EpisodeViewer", "FeatureReuseDashboard",
           "FirstOrderDashboard", "FormulaDashboard", "InnerOuterDashboard", "MetaLSTMDashboard",
           "NavigationDashboard", "OwnTaskDashboard", "ProtoNetDashboard", "QueryBatchDashboard", "SeedBugsDashboard", "TaskPoolDashboard", "TransferDashboard", "UpdateRulesDashboard"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'mtlviz.widgets' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

"""Dashboards: one composite widget class per lesson, wiring and layout only (no maths).

Importing this package changes nothing in the kernel: the served kernels' set-up (memory given
back after every cell, the theme's figure style) is done by ``python -m mtlviz.serve``'s start-up
(:mod:`mtlviz.serve.kernel`).
"""
from .batchnorm_dashboard import QueryBatchDashboard
from .domain_dashboard import DomainAdaptationDashboard
from .episode_dashboard import EpisodeViewer
from .first_order_dashboard import FeatureReuseDashboard, FirstOrderDashboard
from .formula_dashboard import FormulaDashboard, UpdateRulesDashboard
from .guide_dashboard import CourseGuide, course_map_html
from .maml_dashboard import InnerOuterDashboard
from .metalstm_dashboard import MetaLSTMDashboard
from .navigation_dashboard import NavigationDashboard
from .own_task_dashboard import OwnTaskDashboard
from .protonet_dashboard import ProtoNetDashboard
from .seed_dashboard import SeedBugsDashboard
from .task_pool_dashboard import TaskPoolDashboard
from .transfer_dashboard import TransferDashboard

__all__ = ["CourseGuide", "course_map_html", "DomainAdaptationDashboard", "EpisodeViewer", "FeatureReuseDashboard",
           "FirstOrderDashboard", "FormulaDashboard", "InnerOuterDashboard", "MetaLSTMDashboard",
           "NavigationDashboard", "OwnTaskDashboard", "ProtoNetDashboard", "QueryBatchDashboard", "SeedBugsDashboard", "TaskPoolDashboard", "TransferDashboard", "UpdateRulesDashboard"]

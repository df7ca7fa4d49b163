"""Dashboards: one composite widget class per lesson, wiring and layout only (no maths).

Importing this package in a kernel makes the kernel return freed memory to the system after
every cell (:func:`mtlviz._memory.trim_after_each_cell`): a class of dashboard kernels then
holds what its tensors need, not what its busiest cell once touched.
"""
from .._memory import trim_after_each_cell
from .domain_dashboard import DomainAdaptationDashboard
from .episode_dashboard import EpisodeViewer
from .formula_dashboard import FormulaDashboard, UpdateRulesDashboard
from .guide_dashboard import CourseGuide, course_map_html
from .maml_dashboard import InnerOuterDashboard
from .metalstm_dashboard import MetaLSTMDashboard
from .seed_dashboard import SeedBugsDashboard
from .transfer_dashboard import TransferDashboard

__all__ = ["CourseGuide", "course_map_html", "DomainAdaptationDashboard", "EpisodeViewer", "FormulaDashboard", "InnerOuterDashboard", "MetaLSTMDashboard",
           "SeedBugsDashboard", "TransferDashboard", "UpdateRulesDashboard"]

trim_after_each_cell()

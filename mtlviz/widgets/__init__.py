"""Dashboards: one composite widget class per lesson, wiring and layout only (no maths)."""
from .episode_dashboard import EpisodeViewer
from .formula_dashboard import FormulaDashboard
from .guide_dashboard import CourseGuide, course_map_html
from .maml_dashboard import InnerOuterDashboard
from .metalstm_dashboard import MetaLSTMDashboard
from .seed_dashboard import SeedBugsDashboard

__all__ = ["CourseGuide", "course_map_html", "EpisodeViewer", "FormulaDashboard", "InnerOuterDashboard", "MetaLSTMDashboard",
           "SeedBugsDashboard"]

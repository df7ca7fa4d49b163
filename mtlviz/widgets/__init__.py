"""Dashboards: one composite widget class per lesson, wiring and layout only (no maths)."""
from .formula_dashboard import FormulaDashboard
from .guide_dashboard import CourseGuide, course_map_html
from .maml_dashboard import InnerOuterDashboard
from .seed_dashboard import SeedBugsDashboard

__all__ = ["CourseGuide", "course_map_html", "FormulaDashboard", "InnerOuterDashboard", "SeedBugsDashboard"]

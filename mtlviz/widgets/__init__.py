"""Dashboards: one composite widget class per lesson, wiring and layout only (no maths)."""
from .formula_dashboard import FormulaDashboard
from .maml_dashboard import InnerOuterDashboard
from .seed_dashboard import SeedBugsDashboard

__all__ = ["FormulaDashboard", "InnerOuterDashboard", "SeedBugsDashboard"]

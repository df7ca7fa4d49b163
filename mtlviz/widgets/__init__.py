"""Dashboards: one composite widget class per lesson, wiring and layout only (no maths)."""
from .maml_dashboard import InnerOuterDashboard

__all__ = ["InnerOuterDashboard"]

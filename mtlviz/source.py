"""Show mtlviz's real source in a lesson instead of copying it into the notebook."""
from __future__ import annotations

import inspect

__all__ = ["show_source"]


def show_source(obj):
    """Return the source of a function or class as a syntax-highlighted display object.

    The notebook displays the code that actually runs, so a lesson can never drift from the
    package it teaches.
    """
    from IPython.display import Code

    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
        raise ValueError(f"obj must be a function, method or class; got {type(obj).__name__}")
    return Code(inspect.getsource(obj), language="python")

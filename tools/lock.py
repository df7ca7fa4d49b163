"""Write requirements/lock.txt and environment.yml's pip list from the tested environment.

    .venv/bin/python tools/lock.py            # after changing a dependency and passing the tests

The lock is every installed distribution that `mtlviz[test]` needs, direct or transitive, with
torch's local label dropped (``torch==2.13.0``: pip then still takes the ``+cpu`` wheel where one
is on disk, see scripts/setup.sh).  environment.yml (conda, Binder) gets the same pins;
tests/test_packaging.py checks both against pyproject.toml's ranges.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
ENVIRONMENT = ROOT / "environment.yml"

LOCK_HEADER = """\
# The exact set of packages mtlviz was tested with (Python 3.11, Linux x86-64): every
# dependency of `pip install -e .[test]`, direct and transitive.  scripts/setup.sh (so
# scripts/serve, scripts/test and CI) installs with `-c requirements/lock.txt`, and
# environment.yml (conda, Binder) names the same pins.  pyproject.toml holds the ranges mtlviz
# needs; tests/test_packaging.py checks every pin here lies inside them.
# Regenerate after changing the environment:  .venv/bin/python tools/lock.py
"""

ENVIRONMENT_HEADER = """\
# conda / Binder environment: the same pins as requirements/lock.txt (written by tools/lock.py;
# tests/test_packaging.py fails when they drift apart).  postBuild installs mtlviz itself.
name: mtlviz
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def closure() -> list:
    """``name==version`` of every installed distribution that ``mtlviz[test]`` needs, direct or
    transitive (markers evaluated here; tools a developer added to the venv by hand are left out)."""
    from importlib import metadata

    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [(Requirement(r), "") for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    seen = {}
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({**default_environment(), "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        distribution = metadata.distribution(name)  # raises if the environment lacks it
        extras = seen.setdefault(name, (distribution, set()))[1]
        wanted = {""} | set(requirement.extras)
        for wanted_extra in wanted - extras:
            extras.add(wanted_extra)
            todo += [(Requirement(r), wanted_extra) for r in distribution.requires or []]
    pins = []
    for name, (distribution, _) in seen.items():
        version = re.sub(r"\+\w+$", "", distribution.version) if name == "torch" else distribution.version
        pins.append(f"{distribution.metadata['Name']}=={version}")
    return sorted(pins, key=str.lower)


def main() -> None:
    pins = closure()
    LOCK.parent.mkdir(exist_ok=True)
    LOCK.write_text(LOCK_HEADER + "".join(f"{pin}\n" for pin in pins))
    ENVIRONMENT.write_text(ENVIRONMENT_HEADER + "".join(f"      - {pin}\n" for pin in pins))
    print(f"wrote {len(pins)} pins to {LOCK.relative_to(ROOT)} and {ENVIRONMENT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

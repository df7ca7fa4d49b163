"""The two ways to install mtlviz (pip: pyproject.toml, conda/Binder: environment.yml) agree."""
from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def normalise(requirement: str) -> tuple:
    parsed = Requirement(requirement)
    return parsed.name.lower().replace("_", "-"), str(parsed.specifier)


def pyproject_requirements() -> set:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        wanted += extra
    return {normalise(r) for r in wanted}


def environment_requirements() -> set:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml must have exactly one pip: section"
    return {normalise(r) for r in pip_lists[0]}


def test_environment_yml_and_pyproject_name_the_same_dependencies():
    """A conda/Binder user must get the same versions as a pip user, or lessons' outputs differ."""
    pip_side, conda_side = pyproject_requirements(), environment_requirements()
    assert pip_side == conda_side, (
        f"only in pyproject.toml: {sorted(pip_side - conda_side)}; only in environment.yml: {sorted(conda_side - pip_side)}")


def test_the_core_dependencies_are_named():
    """The course needs these; a missing one breaks set-up on a fresh machine."""
    names = {name for name, _ in pyproject_requirements()}
    assert {"jupyterlab", "ipywidgets", "torch", "matplotlib", "voila", "nbval", "ipympl"} <= names


def test_torch_is_pinned_to_the_cpu_release():
    """An unpinned torch makes pip download a multi-GB CUDA build on a classroom laptop."""
    specs = dict(pyproject_requirements())
    assert specs["torch"] == "==2.13.0"


def test_ci_runs_exactly_the_readme_test_command():
    """CI must test what the README tells people to run."""
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/test" in readme and "bash scripts/serve" in readme
    ci_commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                   if line.strip() and not line.lstrip().startswith("#")]
    assert ci_commands[-1] == "exec bash scripts/test"


def test_readme_serve_command_runs_its_set_up_and_reaches_the_server_cli():
    """The teacher's one command must get through set-up to the server (here: its --help)."""
    import subprocess

    result = subprocess.run(["bash", "scripts/serve", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: python -m mtlviz.serve" in result.stdout


def test_the_package_imports_nothing_from_the_test_harness():
    """If this fails, `import mtlviz` on a student's machine needs Playwright or the tests folder
    (the browser harness lives in tests/harness.py, shared with the benchmarks, not shipped)."""
    import ast

    offenders = []
    for path in sorted((ROOT / "mtlviz").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)} imports {n}" for n in names
                          if n.split(".")[0] in ("tests", "playwright", "pytest")]
    assert not offenders, offenders
    assert not (ROOT / "mtlviz" / "serve" / "harness.py").exists()


def test_the_quick_loop_deselects_only_markers_the_suite_declares():
    """If this fails, `scripts/test --quick` filters on a marker nobody sets (so it would quietly run
    the server and browser tests, or nothing would be deselected at all)."""
    import re

    script = (ROOT / "scripts" / "test").read_text()
    expression = re.search(r'--quick.*?-m "([^"]+)"', script, re.S).group(1)
    used = set(re.findall(r"not (\w+)", expression))
    declared = {line.split(":")[0] for line in tomllib.loads((ROOT / "pyproject.toml").read_text())
                ["tool"]["pytest"]["ini_options"]["markers"]}
    assert used and used <= declared, (used, declared)
    for marker in used:  # and each one marks tests
        assert any(f"pytest.mark.{marker}" in path.read_text() for path in (ROOT / "tests").glob("test_*.py")), marker

"""How mtlviz is installed: ranges in pyproject.toml, the exact tested set in requirements/lock.txt
(scripts/setup.sh, CI), the same pins in environment.yml (conda, Binder), and the Python check."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"


def pyproject_requirements() -> dict:
    """{name: Requirement} of the dependencies and every extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        wanted += extra
    parsed = [Requirement(r) for r in wanted]
    return {canonicalize_name(r.name): r for r in parsed}


def pins(lines) -> dict:
    """{name: version} of ``name==version`` lines (comments and blanks skipped); fails on any other form."""
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"not an exact pin: {line}"
        name = canonicalize_name(requirement.name)
        assert name not in found, f"pinned twice: {name}"
        found[name] = spec.version
    return found


def lock_pins() -> dict:
    return pins(LOCK.read_text().splitlines())


def environment_pins() -> dict:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml must have exactly one pip: section"
    return pins(pip_lists[0])


def test_every_lock_pin_lies_inside_its_pyproject_range():
    """If this fails, scripts/setup.sh (and CI) cannot install the lock: pip reports a conflict between
    a constraint and mtlviz's own requirement, or the tests ran with versions the ranges exclude."""
    locked = lock_pins()
    for name, requirement in pyproject_requirements().items():
        assert name in locked, f"{name} is a dependency but has no pin in requirements/lock.txt"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"lock pins {name}=={locked[name]}, outside pyproject.toml's {requirement}")


def test_no_range_is_an_exact_pin_except_where_said():
    """If this fails, installing mtlviz into a school's environment replaces its own JupyterLab, numpy,
    ... with one exact version (the complaint of issue 14): exact versions belong in the lock."""
    for name, requirement in pyproject_requirements().items():
        operators = {spec.operator for spec in requirement.specifier}
        assert operators and operators <= {">=", "<", "<=", "!="}, f"{requirement} is not a range"


def test_environment_yml_names_exactly_the_lock():
    """If this fails, a conda or Binder user gets other versions than the tests ran with, and the
    lessons' checked outputs or the dashboards may differ from what a pip user sees."""
    locked, conda_side = lock_pins(), environment_pins()
    assert conda_side == locked, (
        f"only in the lock: {sorted(set(locked) - set(conda_side))}; only in environment.yml: "
        f"{sorted(set(conda_side) - set(locked))}; different versions: "
        f"{sorted(n for n in set(locked) & set(conda_side) if locked[n] != conda_side[n])}")
    python = [d for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
              if isinstance(d, str) and d.startswith("python=")]
    requires_python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python and Requirement(f"python{requires_python}").specifier.contains(python[0].split("=")[1] + ".0")


def test_the_core_dependencies_are_named():
    """The course needs these; a missing one breaks set-up on a fresh machine."""
    assert {"jupyterlab", "ipywidgets", "torch", "matplotlib", "voila", "nbval", "ipympl"} <= set(pyproject_requirements())


def test_torch_is_locked_to_the_cpu_release_and_its_range_admits_no_newer_minor():
    """If this fails, pip may choose a newer torch, which on Linux comes from PyPI as a multi-GB CUDA
    build (a classroom laptop downloads gigabytes and the tests run on an unchecked release)."""
    assert lock_pins()["torch"] == "2.13.0"
    torch = pyproject_requirements()["torch"]
    assert torch.specifier.contains("2.13.0") and not torch.specifier.contains("2.14.0")
    assert not torch.specifier.contains("2.12.1")


def test_the_lock_is_what_the_test_environment_has():
    """If this fails, the tests ran with other versions than the lock says (someone upgraded a package in
    .venv by hand, or changed the lock without re-running scripts/setup.sh)."""
    from importlib import metadata

    for name, version in lock_pins().items():
        installed = metadata.version(name)
        if name == "torch":
            installed = installed.split("+")[0]
        assert installed == version, f"{name}: lock says {version}, this environment has {installed}"


def test_setup_installs_from_the_lock_and_its_stamp_covers_it():
    """If this fails, scripts/serve and scripts/test install whatever pip resolves today (not the tested
    set), or an edited lock is never installed because the set-up stamp did not change."""
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert 'LOCK="$ROOT/requirements/lock.txt"' in setup
    install_lines = [line for line in setup.splitlines() if "pip install" in line and "--upgrade pip" not in line]
    assert install_lines and all('-c "$LOCK"' in line for line in install_lines), install_lines
    stamp = next(line for line in setup.splitlines() if line.startswith("stamp_of()"))
    assert '"$LOCK"' in stamp and "pyproject.toml" in stamp


def _source_setup(root: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "source scripts/setup.sh serve"], cwd=root, capture_output=True, text=True,
                          env=env, timeout=120)


def test_setup_refuses_a_python_outside_requires_python_with_one_line(tmp_path):
    """If this fails, a student with an unsupported Python gets a long pip resolver error (or a lesson
    that breaks half-way) instead of one line saying which Python mtlviz needs."""
    (tmp_path / "scripts").mkdir()
    for name in ("setup.sh", "check_python.py"):
        (tmp_path / "scripts" / name).write_text((ROOT / "scripts" / name).read_text())
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "lock.txt").write_text(LOCK.read_text())
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    # This interpreter is the unsupported one: a range that starts just above it.
    excluded = f">={sys.version_info[0]}.{sys.version_info[1] + 1}"
    pyproject = (ROOT / "pyproject.toml").read_text()
    current = tomllib.loads(pyproject)["project"]["requires-python"]
    (tmp_path / "pyproject.toml").write_text(pyproject.replace(f'requires-python = "{current}"',
                                                               f'requires-python = "{excluded}"'))
    env = {**os.environ, "PYTHON": sys.executable, "MTLVIZ_VENV": str(tmp_path / "venv")}
    refused = _source_setup(tmp_path, env)
    assert refused.returncode != 0
    message = refused.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert excluded in message and f"Python {running}" in message and "requires-python" in message
    assert not (tmp_path / "venv").exists(), "set-up created a virtual environment before checking Python"
    # The shipped range admits the Python the tests run on (the check itself passes).
    checked = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_python.py"), str(ROOT / "pyproject.toml")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def _throwaway_venv(path: Path) -> Path:
    """A venv that sees this test environment's packages (a .pth adds its site-packages after the
    venv's own), so only what a test installs into it differs. Returns its python."""
    venv.create(path, with_pip=True)
    python = path / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    ours = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "torch").is_dir())
    Path(own, "zz_mtlviz_test_environment.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


def _dry_run(python: Path, *args: str) -> dict:
    report = python.parent.parent / "report.json"
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                             "--dry-run", "--report", str(report), *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return {canonicalize_name(item["metadata"]["name"]): item for item in json.loads(report.read_text())["install"]}


# The lock holds the newest releases of both, so "another in-range version" is an older one here.
SCHOOL_VERSIONS = {"jupyterlab": "4.5.11", "numpy": "2.3.5"}


@pytest.mark.install
def test_installing_mtlviz_leaves_a_schools_in_range_jupyterlab_and_numpy_alone(tmp_path):
    """If this fails, `pip install -e .` on a JupyterHub (the README's recipe) replaces the hub's own
    JupyterLab or numpy with mtlviz's versions, and the school's other courses may break."""
    python = _throwaway_venv(tmp_path / "school")
    for name, version in SCHOOL_VERSIONS.items():
        assert not Requirement(f"{name}=={version}").specifier.contains(lock_pins()[name]), "pick a version != lock"
        assert pyproject_requirements()[name].specifier.contains(version), f"{name} {version} is not in range"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    *[f"{n}=={v}" for n, v in SCHOOL_VERSIONS.items()]], check=True, capture_output=True, timeout=600)
    would_install = _dry_run(python, "-e", str(ROOT))
    assert "mtlviz" in would_install
    changed = {name: would_install[name]["metadata"]["version"] for name in SCHOOL_VERSIONS if name in would_install}
    assert changed == {}, f"installing mtlviz would replace {changed} (school had {SCHOOL_VERSIONS})"


@pytest.mark.install
def test_a_bare_install_on_a_machine_without_torch_takes_the_locked_torch(tmp_path):
    """If this fails, `pip install -e .` on a fresh machine resolves a newer torch, which pip fetches
    from PyPI as a multi-GB CUDA build with its nvidia-* libraries."""
    venv.create(tmp_path / "bare", with_pip=True)
    would_install = _dry_run(tmp_path / "bare" / "bin" / "python", "-e", str(ROOT))
    torch = Version(would_install["torch"]["metadata"]["version"])
    assert torch.base_version == lock_pins()["torch"], torch
    cpu_wheel_on_disk = any(Path(d).is_dir() and any(Path(d).glob(f"torch-{torch.base_version}+cpu-*.whl"))
                            for d in os.environ.get("PIP_FIND_LINKS", "/opt/wheels").split())
    if cpu_wheel_on_disk:  # this project's machines: the CPU wheel, no CUDA libraries
        assert torch.local == "cpu", torch
        assert not [name for name in would_install if name.startswith("nvidia")]


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


# The bottom of each range that a unit test can exercise (ipympl 0.9.4 brings IPython 8 with it).
RANGE_BOTTOMS = {"numpy": "2.0.2", "matplotlib": "3.10.0", "scikit-learn": "1.5.0", "ipywidgets": "8.1.0",
                 "ipympl": "0.9.4", "jupyterlab": "4.2.0"}


@pytest.mark.install
def test_the_unit_tests_pass_at_the_bottom_of_the_ranges(tmp_path):
    """If this fails, a school whose environment has the oldest versions pyproject.toml admits gets
    dashboards or glyph episodes that crash (as matplotlib 3.9 did: it lacks ft2font.LoadFlags)."""
    python = _throwaway_venv(tmp_path / "oldest")
    for name, version in RANGE_BOTTOMS.items():  # each one is its range's lower bound (same minor)
        lower = [Version(s.version) for s in pyproject_requirements()[name].specifier if s.operator == ">="]
        assert lower and Version(version) >= lower[0] and Version(version).release[:2] == (lower[0].release + (0,))[:2], (
            f"{name} {version} is not the bottom of {pyproject_requirements()[name]}: update RANGE_BOTTOMS")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *[f"{n}=={v}" for n, v in RANGE_BOTTOMS.items()]], check=True, capture_output=True, timeout=600)
    tests = ["tests/test_widgets.py", "tests/test_glyphs.py", "tests/test_transfer_curves.py", "tests/test_guide.py"]
    result = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x",
                             "-m", "not browser and not server and not install", *tests],
                            cwd=ROOT, capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(ROOT)})
    versions = subprocess.run([str(python), "-c", "import numpy, matplotlib, sklearn, ipympl; "
                               "print(numpy.__version__, matplotlib.__version__, sklearn.__version__, ipympl.__version__)"],
                              capture_output=True, text=True).stdout.split()
    assert versions == [RANGE_BOTTOMS[n] for n in ("numpy", "matplotlib", "scikit-learn", "ipympl")], versions
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_course_lab_settings_turn_the_news_off_and_set_up_installs_them():
    """If this fails, students who open the lessons in JupyterLab get the "official Jupyter news"
    pop-up and an update check (a request to the internet) on their first start."""
    shipped = ROOT / "jupyter" / "lab" / "settings" / "overrides.json"
    notification = json.loads(shipped.read_text())["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}
    # What scripts/setup.sh copied into this environment (where `jupyter lab` looks for overrides).
    installed = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.exists() and installed.read_text() == shipped.read_text(), installed
    assert "jupyter/lab/settings/overrides.json" in (ROOT / "postBuild").read_text()

"""deploy/jupyterhub_config.py, the README's JupyterHub recipe, against real JupyterHub 6.

JupyterHub is not a dependency of mtlviz (a school's hub brings its own), so the check installs
jupyterhub and jupyterhub-idle-culler into a throwaway venv (marker ``install``, out of --quick).
"""
from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
HUB = ["jupyterhub>=6,<7", "jupyterhub-idle-culler>=2,<3"]

# Run inside the venv that has JupyterHub: load the file the way JupyterHub does (traitlets'
# PyFileConfigLoader), then report every setting it makes that JupyterHub's classes lack.
CHECK = r'''
import json, sys
from traitlets.config.loader import PyFileConfigLoader
from jupyterhub.app import JupyterHub
from jupyterhub.scopes import scope_definitions
from jupyterhub.spawner import LocalProcessSpawner
import jupyterhub

config = PyFileConfigLoader(sys.argv[1]).load_config()
classes = {"JupyterHub": JupyterHub, "Spawner": LocalProcessSpawner}
unknown = [f"{section}.{name}" for section in config for name in config[section]
           if section not in classes or name not in classes[section].class_traits(config=True)]
scopes = [s for role in config.JupyterHub.get("load_roles", []) for s in role["scopes"]
          if s.split("!")[0] not in scope_definitions]
print(json.dumps({"version": jupyterhub.__version__, "unknown": unknown, "bad_scopes": scopes,
                  "settings": {f"{s}.{n}": repr(v) for s in config for n, v in config[s].items()}}))
'''


@pytest.fixture(scope="module")
def hub_python(tmp_path_factory):
    path = tmp_path_factory.mktemp("hub") / "venv"
    venv.create(path, with_pip=True)
    python = path / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *HUB],
                   check=True, capture_output=True, timeout=600)
    return python


@pytest.mark.install
def test_the_jupyterhub_example_names_only_settings_jupyterhub_6_has(hub_python):
    """If this fails, a school that copies deploy/jupyterhub_config.py gets a hub that ignores a
    setting (JupyterHub only warns about unknown config), e.g. students land in JupyterLab instead
    of the dashboards, or idle servers are never culled and the machine runs out of memory."""
    result = subprocess.run([str(hub_python), "-c", CHECK, str(CONFIG)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["version"].startswith("6."), report["version"]
    assert report["unknown"] == [] and report["bad_scopes"] == [], report
    settings = report["settings"]
    assert settings["Spawner.default_url"] == "'/voila/tree/notebooks'"
    assert settings["Spawner.mem_limit"] == "'1G'"
    assert "jupyterhub_idle_culler" in settings["JupyterHub.services"]
    assert "--timeout=600" in settings["JupyterHub.services"]


@pytest.mark.install
def test_the_idle_culler_accepts_the_options_the_example_gives_it(hub_python):
    """If this fails, the hub starts the culler service with an option it rejects: the service dies at
    start and no idle server is ever stopped."""
    result = subprocess.run([str(hub_python), "-m", "jupyterhub_idle_culler", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--timeout" in result.stdout

# JupyterHub for a school: every student gets a server of their own that opens the lessons as
# Voila dashboards (JupyterLab stays one click away at /lab). Tested against JupyterHub 6's
# configuration classes by tests/test_jupyterhub_config.py. Copy it next to your hub and adapt:
#   jupyterhub -f deploy/jupyterhub_config.py
# The user environment needs mtlviz installed (README, "Beyond one machine") and the
# jupyterhub-idle-culler package in the hub's environment.
import sys

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

# Students land on the lessons' landing page, served by Voila from their own server.
c.Spawner.default_url = "/voila/tree/notebooks"
c.Spawner.notebook_dir = "~/mtlviz"  # a checkout of the repository in each student's home

# One dashboard kernel holds about 280-500 MB (RESULTS.md): 1 GB per student, enforced by
# spawners that support it (systemd / Docker / Kubernetes; TLJH and Z2JH do), like --max-kernels.
c.Spawner.mem_limit = "1G"
c.Spawner.cpu_limit = 1.0

# Free the servers of students who left: stop any server idle for 10 minutes.
c.JupyterHub.load_roles = [
    {
        "name": "jupyterhub-idle-culler-role",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["jupyterhub-idle-culler-service"],
    }
]
c.JupyterHub.services = [
    {
        "name": "jupyterhub-idle-culler-service",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=600"],
    }
]

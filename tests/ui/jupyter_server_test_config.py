"""Jupyter server configuration for the Galata (Playwright) UI tests.

``jupyter lab --config tests/ui/jupyter_server_test_config.py`` starts JupyterLab
on a fresh temporary root folder, with the MLflow store (``mlflow.db``) and the
metric spool inside it, so every test session starts empty and leaves nothing
behind in the user's home. Never use this configuration in production: it
removes the token and XSRF protections.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
from pathlib import Path
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - provided by traitlets

configure_jupyter_server(c)

REPO = Path(__file__).resolve().parents[2]
if os.environ.get("JUPYTERLAB_GALATA_ROOT_DIR"):
    ROOT = Path(os.environ["JUPYTERLAB_GALATA_ROOT_DIR"])
    ROOT.mkdir(parents=True, exist_ok=True)
else:
    ROOT = Path(mkdtemp(prefix="mlops-ui-"))
    atexit.register(shutil.rmtree, ROOT, ignore_errors=True)

# Test the source tree this file belongs to, installed or not: the server
# imports jupyter_mlops from it, and so do the kernels it starts.
sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
)
# The store, spool and project of this session only.
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ["JUPYTER_MLOPS_SPOOL_DIR"] = str(ROOT / ".mlops-spool")

c.ServerApp.root_dir = str(ROOT)
c.ServerApp.port = int(os.environ.get("MLOPS_UI_PORT", "8899"))
c.ServerApp.allow_root = True
c.ServerApp.jpserver_extensions = {"jupyter_mlops": True}
# The freshly built labextension (jupyter_mlops/labextension), next to galata's
# helpers. JupyterLab finds an extension by its folder name, so link it in as
# ``jupyter-mlops`` (what ``jupyter labextension develop`` does, without
# touching the environment).
EXTENSIONS = Path(mkdtemp(prefix="mlops-ui-labextensions-"))
atexit.register(shutil.rmtree, EXTENSIONS, ignore_errors=True)
LINK = EXTENSIONS / "jupyter-mlops"
LINK.symlink_to(REPO / "jupyter_mlops" / "labextension", target_is_directory=True)
atexit.register(LINK.unlink, missing_ok=True)  # runs first: only the link goes
c.LabServerApp.extra_labextensions_path = [
    str(EXTENSIONS),
    c.LabServerApp.extra_labextensions_path,
]
c.MlopsConfig.tracking_uri = f"sqlite:///{ROOT / 'mlflow.db'}"
c.MlopsConfig.project = "ui-tests"
# The panel links runs to this (unreachable) MLflow UI: actions.spec checks the hrefs.
c.MlopsConfig.mlflow_ui_url = "http://mlflow.example:5000"
# The cost ledger of this session only (not ~/.local/share/jupyter-mlops).
c.MlopsConfig.cost_ledger_url = f"sqlite:///{ROOT / 'cost.db'}"
# A spec's own idle policy (notifications.spec sets it through fixtures.ts's mlopsServerEnv).
if os.environ.get("MLOPS_UI_IDLE_POLICY"):
    c.MlopsConfig.idle_policy = json.loads(os.environ["MLOPS_UI_IDLE_POLICY"])

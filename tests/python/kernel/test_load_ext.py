"""``%load_ext jupyter_mlops`` stays cheap: checked in a fresh interpreter."""

from __future__ import annotations

import json

from child_python import python

HEAVY = ("mlflow", "nbformat", "papermill", "jupyter_server", "ipywidgets", "matplotlib")

SCRIPT = f"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "jupyter_mlops")
shell.run_line_magic("mlops", "--help")
shell.run_line_magic("mlops", "log --help")
result = shell.run_cell("%mlops log acc=abc")
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
print(json.dumps({{"heavy": heavy, "failed": not result.success,
                   "magics": sorted(shell.magics_manager.magics["line"])}}))
"""


def test_load_ext_help_and_bad_input_import_no_mlflow(child_env: dict[str, str]) -> None:
    proc = python("-c", SCRIPT, env=child_env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["failed"] is True
    assert "mlops" in report["magics"]
    assert "Traceback" not in proc.stdout + proc.stderr

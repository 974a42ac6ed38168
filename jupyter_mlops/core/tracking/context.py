"""Run context: which notebook, which git commit, who, where, and the parameters cell.

Pure library code: no IPython, no jupyter_server, no MLflow. ``git`` runs as a
subprocess with a list argv and short timeouts; every function here degrades to
"unknown" (an empty result) instead of failing, because context is a nicety and
must never stop a run from starting.
"""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from jupyter_mlops.core import tags as mlops_tags
from jupyter_mlops.core.redact import strip_url_credentials

__all__ = [
    "ENV_KERNEL_ID",
    "ENV_NOTEBOOK",
    "current_user",
    "default_project",
    "git_info",
    "kernel_id",
    "notebook_file",
    "notebook_path",
    "parameter_names_from_history",
    "parameter_names_from_notebook",
    "parameter_names_from_source",
    "run_context_tags",
    "strip_url_credentials",
]

ENV_NOTEBOOK = "JUPYTER_MLOPS_NOTEBOOK"
ENV_KERNEL_ID = "JUPYTER_MLOPS_KERNEL_ID"
_ENV_ROOT_DIR = "JUPYTER_MLOPS_ROOT_DIR"  # same value as config.ENV_ROOT_DIR (no import cycle)
_GIT_TIMEOUT = 3.0
_KERNEL_FILE_RE = re.compile(r"kernel-([\w\-]+)\.json$")


def _git(args: list[str], cwd: Path) -> str | None:
    """Output of ``git <args>`` in ``cwd`` (stripped), or None on any failure."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip()


def git_info(path: Path | str) -> dict[str, str | bool]:
    """Git state of the repository containing ``path``.

    Returns ``{"commit", "branch", "dirty", "remote_url", "toplevel"}`` (keys
    present only when known; ``dirty`` is a bool counting tracked files only),
    or an empty dict when ``path`` is not in a repository or git is missing.
    """
    cwd = Path(path)
    if cwd.is_file():
        cwd = cwd.parent
    if not cwd.is_dir():
        return {}
    toplevel = _git(["rev-parse", "--show-toplevel"], cwd)
    if not toplevel:
        return {}
    info: dict[str, str | bool] = {"toplevel": toplevel}
    head = _git(["rev-parse", "HEAD", "--abbrev-ref", "HEAD"], cwd)
    if head:
        lines = head.splitlines()
        info["commit"] = lines[0]
        if len(lines) > 1 and lines[1] != "HEAD":
            info["branch"] = lines[1]
    else:  # no commit yet: the branch still has a name
        branch = _git(["symbolic-ref", "--short", "-q", "HEAD"], cwd)
        if branch:
            info["branch"] = branch
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    if status is not None:
        info["dirty"] = bool(status)
    remote = _git(["config", "--get", "remote.origin.url"], cwd)
    if remote:
        info["remote_url"] = strip_url_credentials(remote)
    return info


def default_project(root_dir: Path) -> str:
    """Name of the git repository's top folder containing ``root_dir``, else its folder name."""
    root = Path(root_dir).resolve()
    toplevel = _git(["rev-parse", "--show-toplevel"], root) if root.is_dir() else None
    if toplevel:
        return Path(toplevel).name
    return root.name or str(root)


def _root_dir(root_dir: Path | str | None) -> Path | None:
    value = root_dir if root_dir is not None else os.environ.get(_ENV_ROOT_DIR)
    return Path(value) if value else None


def _relative_to_root(path: str, root: Path | None) -> str:
    """``path`` as a POSIX path relative to ``root`` when it lies inside it."""
    candidate = Path(path)
    if not candidate.is_absolute():
        return PurePosixPath(*candidate.parts).as_posix()
    if root is not None:
        for base, target in ((root, candidate), (root.resolve(), candidate.resolve())):
            try:
                return target.relative_to(base).as_posix()
            except ValueError:
                continue
    return candidate.as_posix()


def notebook_path(root_dir: Path | str | None = None) -> str | None:
    """The current kernel's notebook, relative to the server root where possible.

    ``$JUPYTER_MLOPS_NOTEBOOK`` (set by the pipeline runner) wins. Otherwise
    ``$JPY_SESSION_NAME``, which jupyter_server sets for a session's kernel:
    the absolute OS path ``<cwd>/<name>`` when the client sends a session name
    (JupyterLab does), else the API path relative to the server root. Absolute
    paths are made relative to ``root_dir`` (default ``$JUPYTER_MLOPS_ROOT_DIR``)
    when inside it. None when not in a notebook kernel.
    """
    raw = os.environ.get(ENV_NOTEBOOK) or os.environ.get("JPY_SESSION_NAME")
    if not raw:
        return None
    return _relative_to_root(raw, _root_dir(root_dir))


def notebook_file(root_dir: Path | str | None = None) -> Path | None:
    """The OS path of :func:`notebook_path` (relative paths resolve against the root, else cwd)."""
    rel = notebook_path(root_dir)
    if rel is None:
        return None
    path = Path(rel)
    if path.is_absolute():
        return path
    root = _root_dir(root_dir)
    return (root if root is not None else Path.cwd()) / path


def _target_names(target: ast.expr) -> Iterable[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _parse_lenient(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    # IPython syntax (%magic, !shell, ?help) is blanked out line by line, then retried.
    lines = [
        "" if line.lstrip().startswith(("%", "!", "?")) else line for line in source.splitlines()
    ]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def parameter_names_from_source(source: str) -> list[str]:
    """Names assigned at the top level of ``source``, in order, without repeats.

    Handles ``a = 1``, ``a: int = 1``, ``a, b = 1, 2`` and ``a = b = 1``; IPython
    magics are ignored; unparseable source gives an empty list.
    """
    tree = _parse_lenient(source)
    if tree is None:
        return []
    names: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for name in _target_names(target):
                if name not in names:
                    names.append(name)
    return names


def _cell_source(cell: Mapping[str, object]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def parameter_names_from_notebook(nb_path: Path | str) -> list[str]:
    """Names assigned in the cells tagged ``parameters`` of the ``.ipynb`` at ``nb_path``.

    Reads the notebook JSON directly (nbformat is slow to import). A missing or
    malformed file gives an empty list.
    """
    try:
        with open(nb_path, encoding="utf-8") as f:
            notebook = json.load(f)
        cells = notebook.get("cells", [])
    except (OSError, ValueError, AttributeError):
        return []
    names: list[str] = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        metadata = cell.get("metadata")
        tags = metadata.get("tags", []) if isinstance(metadata, dict) else []
        if isinstance(tags, list) and "parameters" in tags:
            for name in parameter_names_from_source(_cell_source(cell)):
                if name not in names:
                    names.append(name)
    return names


def parameter_names_from_history(sources: Iterable[str]) -> list[str]:
    """Parameter names of a papermill execution, from the executed cell sources (IPython ``In``).

    papermill inserts its injected cell (source starting ``# Parameters``) right
    after the cell tagged ``parameters``, or first when there is none; so the
    names are those assigned in the cell executed just before the last injected
    one, then those of the injected cell itself (the notebook path, and so the
    tags, is not known to a papermill kernel).
    """
    cells = [source if isinstance(source, str) else "" for source in sources]
    last = None
    for index, source in enumerate(cells):
        if source.lstrip().startswith("# Parameters"):
            last = index
    if last is None:
        return []
    names = parameter_names_from_source(cells[last - 1]) if last > 0 else []
    for name in parameter_names_from_source(cells[last]):
        if name not in names:
            names.append(name)
    return names


def kernel_id(argv: list[str] | None = None) -> str | None:
    """The Jupyter kernel id: ``$JUPYTER_MLOPS_KERNEL_ID``, else from ``-f .../kernel-<id>.json``."""
    env = os.environ.get(ENV_KERNEL_ID)
    if env:
        return env
    for arg in reversed(sys.argv if argv is None else argv):
        match = _KERNEL_FILE_RE.search(arg)
        if match:
            return match.group(1)
    return None


def current_user() -> str:
    """The OS account name (from the password database, not the environment)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        import getpass

        try:
            return getpass.getuser()
        except Exception:  # getpass raises OSError or KeyError depending on the platform
            return "unknown"


def run_context_tags(
    *,
    notebook: str | None = None,
    project: str | None = None,
    source_dir: Path | str | None = None,
    kernel: str | None = None,
    user: str | None = None,
) -> dict[str, str]:
    """MLflow standard tags plus ours describing where a run comes from.

    ``notebook`` is the server-relative notebook path (default
    :func:`notebook_path`); git state is read from ``source_dir`` (default: the
    notebook's folder, else the current directory). Only names, ids and
    credential-free URLs go into tags, never environment variable values.
    """
    if notebook is None:
        notebook = notebook_path()
    tags: dict[str, str] = {}
    if notebook:
        tags["mlflow.source.name"] = notebook
        tags[mlops_tags.NOTEBOOK] = notebook
        is_notebook = notebook.endswith(".ipynb")
    else:
        is_notebook = False
        script = sys.argv[0] if sys.argv and sys.argv[0] else ""
        # a kernel's own launcher (papermill runs, consoles) names no user source
        if script and script != "-c" and not Path(script).name.startswith("ipykernel_launcher"):
            tags["mlflow.source.name"] = Path(script).name
    tags["mlflow.source.type"] = "NOTEBOOK" if is_notebook else "LOCAL"
    tags["mlflow.user"] = user or current_user()
    if project:
        tags[mlops_tags.PROJECT] = project
    if source_dir is None:
        nb_file = notebook_file()
        source_dir = nb_file.parent if nb_file is not None and nb_file.parent.is_dir() else "."
    git = git_info(source_dir)
    if "commit" in git:
        tags["mlflow.source.git.commit"] = str(git["commit"])
    if "branch" in git:
        tags["mlflow.source.git.branch"] = str(git["branch"])
    if "remote_url" in git:
        tags["mlflow.source.git.repoURL"] = str(git["remote_url"])
    if "dirty" in git:
        tags[mlops_tags.GIT_DIRTY] = "true" if git["dirty"] else "false"
    tags[mlops_tags.HOST] = socket.gethostname()
    kid = kernel or kernel_id()
    if kid:
        tags[mlops_tags.KERNEL_ID] = kid
    tags[mlops_tags.PID] = str(os.getpid())
    return tags

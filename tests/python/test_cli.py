"""``jupyter mlops`` / ``jupyter-mlops``: help, real-store listings, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from child_python import last_line, python

import jupyter_mlops
from jupyter_mlops.cli.main import COMMANDS, main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store_runs(mlflow_store: Any, make_run: Any) -> dict[str, str]:
    return {
        "good": make_run("churn", name="good", metrics={"acc": [0.9]}, params={"m": "rf"}),
        "bad": make_run(
            "churn", name="bad\x1b[31m", status="FAILED", metrics={"acc": [float("nan")]}
        ),
        "other": make_run("vision", name="other"),
    }


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def store_cli(
    capsys: pytest.CaptureFixture[str], mlflow_store: Any, store_runs: dict[str, str]
) -> Cli:
    """``jupyter mlops COMMAND ARGS --tracking-uri <the store of store_runs>``."""

    def run(command: str, *argv: str) -> tuple[int, str, str]:
        return run_cli(capsys, command, "--tracking-uri", mlflow_store.uri, *argv)

    return run


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert {"runs", "experiments", "ui"} <= set(COMMANDS)
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for name, cmd in COMMANDS.items():
        assert name in out
        code, sub_out, _ = run_cli(capsys, name, "--help")
        assert code == 0
        assert f"jupyter mlops {name}" in sub_out
        assert cmd.description.split()[0] in sub_out


def test_the_command_table_is_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    """``--help`` lists every entry of the one table, with its help text, in table order."""
    _, out, _ = run_cli(capsys, "--help")
    listing = " ".join(out.split("COMMAND", 2)[2].split("options:")[0].split())
    positions = []
    for name, cmd in COMMANDS.items():
        assert cmd.help, f"{name} has no help text"
        entry = f"{name} {cmd.help}"
        assert entry in listing, entry
        positions.append(listing.index(entry))
    assert positions == sorted(positions)
    for name, cmd in COMMANDS.items():
        if cmd.children:
            _, out, _ = run_cli(capsys, name, "--help")
            listing = " ".join(out.split("COMMAND", 2)[2].split("options:")[0].split())
            found = [listing.index(f"{child.name} {child.help}") for child in cmd.children.values()]
            assert found == sorted(found)


def test_nothing_registers_itself_on_import() -> None:
    """Each command module exposes its commands as values; only main's table lists them."""
    from jupyter_mlops.cli import command

    assert not hasattr(command, "COMMANDS")
    assert list(COMMANDS) == [
        "runs",
        "experiments",
        "ui",
        "run-edit",
        "env",
        "cost",
        "params",
        "export",
        "run",
        "schedule",
        "scheduler",
    ]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0
    assert out.strip() == f"jupyter-mlops {jupyter_mlops.__version__}"


def test_runs_json_from_a_real_store(store_cli: Cli, store_runs: dict[str, str]) -> None:
    code, out, err = store_cli("runs", "--format", "json")
    assert code == 0, err
    page = json.loads(out, parse_constant=lambda token: pytest.fail(f"invalid JSON {token}"))
    assert {run["run_id"] for run in page["runs"]} == set(store_runs.values())
    assert page["next_page_token"] is None
    by_id = {run["run_id"]: run for run in page["runs"]}
    assert by_id[store_runs["good"]]["metrics"] == {"acc": 0.9}
    assert by_id[store_runs["bad"]]["metrics"] == {"acc": None}


def test_runs_filters_and_env_store(
    capsys: pytest.CaptureFixture[str],
    mlflow_store: Any,
    store_runs: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store.uri)
    code, out, _ = run_cli(
        capsys, "runs", "--experiment", "churn", "--status", "failed", "--format", "json"
    )
    assert code == 0
    assert [run["run_id"] for run in json.loads(out)["runs"]] == [store_runs["bad"]]


def test_runs_paging_token_on_stderr(store_cli: Cli) -> None:
    code, out, err = store_cli("runs", "--max", "2")
    assert code == 0
    assert len(out.strip().splitlines()) == 3  # header + 2 runs
    token = err.split("--page-token ", 1)[1].strip()
    code, out, err = store_cli("runs", "--max", "2", "--page-token", token)
    assert code == 0
    assert len(out.strip().splitlines()) == 2
    assert err == ""


def test_table_output_has_no_control_characters(store_cli: Cli) -> None:
    code, out, _ = store_cli("runs")
    assert code == 0
    assert out.splitlines()[0].split() == ["RUN", "ID", "NAME", "STATUS", "STARTED", "DURATION"]
    assert "\x1b" not in out
    assert "bad?[31m" in out


def test_experiments(store_cli: Cli) -> None:
    code, out, _ = store_cli("experiments", "--format", "json")
    assert code == 0
    names = [exp["name"] for exp in json.loads(out)["experiments"]]
    assert names[:2] == ["vision", "churn"]
    code, out, _ = store_cli("experiments")
    assert code == 0
    assert "churn" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["runs", "--max", "abc"], ["--max", "1 to 1000"]),
        (["runs", "--max", "0"], ["--max"]),
        (["runs", "--status", "DONE"], ["--status", "invalid choice"]),
        (["runs", "--format", "xml"], ["--format"]),
        (["runs", "--order-by", "artifact_uri"], ["order_by"]),
        (["runs", "--filter", "params.x = 'unterminated"], ["filter"]),
        (["nosuchcommand"], ["invalid choice"]),
        ([], ["usage"]),
    ],
)
def test_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], mlflow_store: Any, argv: list[str], words: list[str]
) -> None:
    if argv and argv[0] == "runs":
        argv = [*argv, "--tracking-uri", mlflow_store.uri]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    for word in words:
        assert word in err
    assert "Traceback" not in err


def test_unknown_experiment_exits_1(store_cli: Cli) -> None:
    code, out, err = store_cli("runs", "--experiment", "missing")
    assert code == 1
    assert out == ""
    assert "No experiment named 'missing'" in err
    assert "Traceback" not in err


def test_missing_store_exits_1_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(capsys, "runs", "--root-dir", str(tmp_path))
    assert code == 1
    assert "No MLflow store" in err
    assert "--tracking-uri" in err
    assert not (tmp_path / "mlflow.db").exists()


def test_ui_prints_the_mlflow_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "ui", "--root-dir", str(tmp_path), "--port", "5055", "--print")
    assert code == 0
    uri = f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert out.split() == [
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        "5055",
    ]


def test_ui_never_shows_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "ui", "--tracking-uri", "postgresql://me:hunter2@db.example/mlflow", "--print"
    )
    assert code == 0
    assert "hunter2" not in out
    assert "postgresql://db.example/mlflow" in out
    code, out, _ = run_cli(capsys, "ui", "--tracking-uri", "https://me:hunter2@mlflow.example")
    assert code == 0
    assert "open https://mlflow.example" in out
    assert "hunter2" not in out


def test_help_imports_neither_mlflow_nor_jupyter_server() -> None:
    last = last_line(
        "import sys\n"
        "from jupyter_mlops.cli.main import main\n"
        "for argv in (['--help'], ['runs', '--help'], ['--version']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('mlflow', 'jupyter_server', 'tornado', 'IPython') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    assert last == "HEAVY []"


def test_module_entry_point_exit_code(tmp_path: Path) -> None:
    result = python("-m", "jupyter_mlops.cli.main", "runs", "--root-dir", str(tmp_path))
    assert result.returncode == 1
    assert "jupyter mlops: error: No MLflow store" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(
    shutil.which("jupyter-mlops") is None, reason="package not installed (pip install -e .)"
)
def test_jupyter_finds_the_subcommand() -> None:
    result = subprocess.run(
        ["jupyter", "mlops", "--version"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("jupyter-mlops ")

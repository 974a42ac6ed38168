"""``%mlops`` parsing, help and error reporting: nothing here touches a run or a store."""

from __future__ import annotations

import re
import types

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlops.exceptions import InvalidValueError, MlopsError, UsageError
from jupyter_mlops.kernel import magics
from jupyter_mlops.kernel.magics import SUBCOMMAND_MODULES, MlopsMagicError, subcommands
from jupyter_mlops.kernel.parsing import (
    Invocation,
    Subcommand,
    parse_assignments,
    parse_metric_values,
    parse_param_value,
)

SUBCOMMANDS = subcommands()


def test_assignments_split_on_the_first_equals_sign() -> None:
    assert parse_assignments(["a=1", "url=http://x?q=1", "empty="], "x", "a=1") == {
        "a": "1",
        "url": "http://x?q=1",
        "empty": "",
    }


@pytest.mark.parametrize("item", ["novalue", "=3", " =3"])
def test_assignment_without_key_or_equals_is_rejected(item: str) -> None:
    with pytest.raises(InvalidValueError, match="KEY=VALUE"):
        parse_assignments([item], "a metric", "acc=0.9")


def test_assignment_given_twice_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="twice"):
        parse_assignments(["a=1", "a=2"], "a metric", "acc=0.9")


def test_metric_values_are_all_checked_and_all_named() -> None:
    assert parse_metric_values({"acc": "0.5", "loss": "-2e-3", "n": "7"}) == {
        "acc": 0.5,
        "loss": -0.002,
        "n": 7.0,
    }
    with pytest.raises(InvalidValueError) as info:
        parse_metric_values({"acc": "abc", "loss": "0.2", "f1": "high"})
    assert "acc='abc'" in info.value.message
    assert "f1='high'" in info.value.message
    assert "Nothing was logged" in info.value.message
    assert info.value.hint


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.01", 0.01),
        ("3", 3),
        ("[64, 32]", [64, 32]),
        ("True", True),
        ("'quoted'", "quoted"),
        ("adam", "adam"),
        ("1+", "1+"),
        ("__import__('os')", "__import__('os')"),
        ("9" * 5000, "9" * 5000),  # over int's digit limit: kept as text
    ],
)
def test_param_values_are_literals_or_text(text: str, value: object) -> None:
    assert parse_param_value(text) == value


@pytest.mark.parametrize("line", ["", "help", "--help", "-h"])
def test_general_help_lists_every_subcommand(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    assert ip.run_line_magic("mlops", line) is None
    out = capsys.readouterr().out
    for name, sub in SUBCOMMANDS.items():
        assert re.search(rf"\b{name}\b.*{re.escape(sub.summary)}", out), name


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_has_help_that_never_exits(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    for line in (f"{name} --help", f"{name} -h", f"help {name}"):
        result = ip.run_cell(f"%mlops {line}")
        assert result.success, result.error_in_exec
        out = capsys.readouterr().out
        assert f"usage: {SUBCOMMANDS[name].prog}" in out
        assert "example" in out or name in ("status", "open")


def test_cell_magic_help_does_not_run_the_cell(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.user_ns.pop("ran", None)
    result = ip.run_cell("%%mlops run --help\nran = True\n")
    assert result.success
    assert "usage: %%mlops run" in capsys.readouterr().out
    assert "ran" not in ip.user_ns


def test_unknown_subcommand_lists_the_valid_ones(ip: InteractiveShell) -> None:
    with pytest.raises(MlopsMagicError) as info:
        ip.run_line_magic("mlops", "strat --experiment x")
    assert isinstance(info.value.error, UsageError)
    for name in SUBCOMMANDS:
        assert name in info.value.error.message


@pytest.mark.parametrize(
    "line",
    [
        "start --bogus",
        "start --experiment",
        "end --status DONE",
        "log",
        "log acc=0.5 --step x",
        'start --run-name "unclosed',
        "param novalue",
        "run",
    ],
)
def test_bad_arguments_are_usage_errors_not_exits(ip: InteractiveShell, line: str) -> None:
    with pytest.raises(MlopsMagicError) as info:
        ip.run_line_magic("mlops", line)
    assert isinstance(info.value.error, UsageError)


def test_line_only_subcommand_refuses_a_cell(ip: InteractiveShell) -> None:
    with pytest.raises(MlopsMagicError, match="supports only: run"):
        ip.run_cell_magic("mlops", "start", "x = 1\n")


def test_error_shows_message_and_hint_without_traceback(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%mlops log acc=abc loss=0.2")
    assert not result.success
    assert isinstance(result.error_in_exec, MlopsMagicError)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "InvalidValueError" in text
    assert "acc='abc'" in text
    assert "Hint: for example %mlops log" in text
    assert "Traceback" not in text
    assert "magics.py" not in text


def test_render_traceback_is_message_then_hint() -> None:
    err = MlopsMagicError(MlopsError("It broke.", hint="do this"))
    lines = err._render_traceback_()
    assert lines[0].endswith("MlopsError\x1b[0m: It broke.")
    assert lines[1:] == ["Hint: do this"]
    assert str(err) == "MlopsError: It broke. (do this)"


def test_subcommands_are_extensible(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def arguments(parser: object) -> None:
        parser.add_argument("--limit", type=float)  # type: ignore[attr-defined]

    def _budget(inv: Invocation) -> None:
        seen.append(str(inv.args.limit))

    budget = Subcommand(
        "budget", "set a cost budget", _budget, arguments=arguments, details="example: x"
    )
    module = types.SimpleNamespace(SUBCOMMANDS=(budget,))
    monkeypatch.setattr(magics, "SUBCOMMAND_MODULES", (*SUBCOMMAND_MODULES, module))
    ip.run_line_magic("mlops", "budget --limit 12.5")
    ip.run_line_magic("mlops", "--help")
    assert "set a cost budget" in capsys.readouterr().out
    assert seen == ["12.5"]


def test_the_module_tuple_is_what_help_lists(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """``%mlops help`` lists the subcommands of SUBCOMMAND_MODULES, module by module, in order."""
    expected = [sub.name for module in SUBCOMMAND_MODULES for sub in module.SUBCOMMANDS]
    assert [module.__name__.rsplit(".", 1)[1] for module in SUBCOMMAND_MODULES] == [
        "tracking_magics",
        "env_magics",
        "cost_magics",
    ]
    ip.run_line_magic("mlops", "help")
    rows = capsys.readouterr().out.split("Subcommands:\n", 1)[1].split("\n\n", 1)[0]
    assert [line.split()[1] for line in rows.splitlines()] == expected
    assert list(SUBCOMMANDS) == expected
    assert len(set(expected)) == len(expected), "a subcommand name is used twice"


def test_python_variables_expand_in_the_line(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.user_ns["which"] = "status"
    ip.run_cell("%mlops help {which}")
    assert "usage: %mlops status" in capsys.readouterr().out

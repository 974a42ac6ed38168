"""Parameter inference from the ``parameters`` cell, tagging, and override validation."""

from __future__ import annotations

from typing import Any

import pytest
from pipeline_helpers import code_cell, notebook

from jupyter_mlops.core.pipeline import (
    infer_parameters,
    parameters_cell_index,
    tag_parameters_cell,
    validate_overrides,
)
from jupyter_mlops.core.pipeline.params import resolve_text
from jupyter_mlops.exceptions import InvalidValueError, UsageError


def _one(source: str) -> Any:
    (param,) = infer_parameters(notebook(source))
    return param


@pytest.mark.parametrize(
    ("source", "kind", "default", "literal"),
    [
        ("n = 3", "int", 3, True),
        ("lr = 0.01", "float", 0.01, True),
        ("lr = -1e-3", "float", -0.001, True),
        ("name = 'a\\'b'", "str", "a'b", True),
        ("flag = True", "bool", True, True),
        ("layers = [1, 2, {'a': None}]", "list", [1, 2, {"a": None}], True),
        ("cfg = {'k': [1.5]}", "dict", {"k": [1.5]}, True),
        ("x = None", "unknown", None, True),
        # annotations win over the literal
        ("lr: float = 1", "float", 1.0, True),
        ("n: int = 3", "int", 3, True),
        ("xs: list[int] = []", "list", [], True),
        ("d: dict[str, int] = {}", "dict", {}, True),
        ("s: str = 'x'", "str", "x", True),
        # an annotation that is not one of the types: the literal decides
        ("p: Path = 'data'", "str", "data", True),
        # non-literal defaults are flagged
        ("n = len('abc')", "unknown", None, False),
        ("n: int = len('abc')", "int", None, False),
        ("t = (1, 2)", "unknown", None, False),  # a tuple is not JSON-like
        ("s = {1, 2}", "unknown", None, False),
        ("d = {1: 'a'}", "unknown", None, False),  # non-str keys
        ("path = Path('x')", "unknown", None, False),
    ],
)
def test_type_inference(source: str, kind: str, default: object, literal: bool) -> None:
    param = _one(source)
    assert (param.type, param.default, param.literal) == (kind, default, literal)
    assert param.line == 1
    if kind == "float" and literal:
        assert isinstance(param.default, float)


def test_annotation_text_lines_order_and_reassignment() -> None:
    nb = notebook("%matplotlib inline\na: int = 1\nb = c = 'x'\nd, e = 1, 2.5\na = 5\nprint(a)\n")
    params = infer_parameters(nb)
    assert [p.name for p in params] == ["a", "b", "c", "d", "e"]
    by = {p.name: p for p in params}
    assert by["a"].default == 5
    assert by["a"].line == 5
    assert by["b"].annotation is None
    assert by["c"].default == "x"
    assert (by["d"].type, by["e"].type) == ("int", "float")
    assert by["a"].to_dict() == {"type": "int", "default": 5}
    assert infer_parameters(notebook("n: int = 1"))[0].annotation == "int"


def test_no_parameters_cell_names_how_to_tag() -> None:
    nb = notebook(None, "x = 1")
    with pytest.raises(UsageError, match="no cell tagged 'parameters'") as info:
        infer_parameters(nb)
    assert info.value.hint is not None
    assert "parameters" in info.value.hint
    assert parameters_cell_index(nb) is None


def test_syntax_error_in_parameters_cell() -> None:
    with pytest.raises(InvalidValueError, match="cell 0") as info:
        infer_parameters(notebook("x = (\n"))
    assert info.value.cell_index == 0


def test_tag_parameters_cell_returns_a_tagged_copy() -> None:
    nb = notebook(None, "import os", "n = 3", "print(n)")
    nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": "# t"})
    tagged = tag_parameters_cell(nb, 2)
    assert parameters_cell_index(nb) is None  # the original is untouched
    assert parameters_cell_index(tagged) == 2
    assert [p.name for p in infer_parameters(tagged)] == ["n"]
    # retagging moves the tag and keeps other tags
    tagged["cells"][2]["metadata"]["tags"].append("keep")
    moved = tag_parameters_cell(tagged, 1)
    assert moved["cells"][2]["metadata"]["tags"] == ["keep"]
    assert moved["cells"][1]["metadata"]["tags"] == ["parameters"]
    with pytest.raises(UsageError, match="markdown"):
        tag_parameters_cell(nb, 0)
    with pytest.raises(UsageError, match="out of range"):
        tag_parameters_cell(nb, 9)


PARAMS = infer_parameters(
    notebook(
        "n = 3\nlr = 0.1\nname = 'x'\nflag = False\nxs = [1]\ncfg = {}\nz = None\nm = len('a')\n"
    )
)


def test_overrides_are_coerced_from_cli_text() -> None:
    out = validate_overrides(
        PARAMS,
        {
            "n": "7",
            "lr": "1e-3",
            "name": "007",
            "flag": "True",
            "xs": "[1, 2]",
            "cfg": '{"a": 1}',
            "z": "raw",
        },
        from_text=True,
    )
    assert out == {
        "n": 7,
        "lr": 0.001,
        "name": "007",
        "flag": True,
        "xs": [1, 2],
        "cfg": {"a": 1},
        "z": "raw",
    }
    assert validate_overrides(PARAMS, {"lr": 2, "m": {"a": [1]}}) == {"lr": 2.0, "m": {"a": [1]}}


@pytest.mark.parametrize(
    ("overrides", "from_text", "message"),
    [
        ({"n": 1.5}, False, "n: expected int"),
        ({"n": True}, False, "n: expected int"),
        ({"n": "abc"}, True, "n: expected int"),
        ({"n": "3"}, False, "n: expected int"),  # no parsing outside the CLI
        ({"lr": "fast"}, True, "lr: expected a finite float"),
        ({"lr": float("nan")}, False, "lr: expected a finite float"),
        ({"flag": 1}, False, "flag: expected bool"),
        ({"flag": "yes"}, True, "flag: expected bool"),
        ({"name": 3}, False, "name: expected str"),
        ({"xs": "{}"}, True, "xs: expected list"),
        ({"cfg": [1]}, False, "cfg: expected dict"),
        ({"z": (1, 2)}, False, "not JSON-like"),
        ({"z": {1: 2}}, False, "not JSON-like"),
    ],
)
def test_type_mismatch(overrides: dict[str, object], from_text: bool, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        validate_overrides(PARAMS, overrides, from_text=from_text)


def test_unknown_names_list_the_valid_ones_and_all_errors_come_at_once() -> None:
    with pytest.raises(UsageError) as info:
        validate_overrides(
            PARAMS,
            {"nn": 1, "class": 1, "a b": 1, "x=1;import os": 1, "None": 1, "n": "x"},
        )
    error = info.value
    assert not isinstance(error, InvalidValueError)
    for part in (
        "unknown parameter 'nn'",
        "'class' is a Python keyword",
        "'None' is a Python keyword",
        "'a b' is not a Python identifier",
        "'x=1;import os' is not a Python identifier",
        "n: expected int",
    ):
        assert part in error.message
    assert error.hint == "valid parameters: cfg, flag, lr, m, n, name, xs, z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", 5),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e-3", 0.001),
        ("True", True),
        ("False", False),
        ("None", None),
        ("true", "true"),  # papermill: only the Python spellings
        ("null", "null"),
        ("007", 7),
        ("[1, 2]", "[1, 2]"),
        ("hello", "hello"),
        ("", ""),
    ],
)
def test_untyped_cli_values_are_read_as_papermill_reads_them(text: str, expected: object) -> None:
    from papermill.cli import _resolve_type

    assert _resolve_type(text) == expected  # the reference
    assert type(_resolve_type(text)) is type(expected)
    out = validate_overrides(PARAMS, {"z": text, "m": text}, from_text=True)
    assert out == {"z": expected, "m": expected}
    assert type(out["z"]) is type(expected)
    assert resolve_text(text) == expected


def test_untyped_values_from_json_and_typed_parameters_keep_their_rules() -> None:
    # JSON bodies (the panel) and YAML files are typed already: nothing is re-read
    assert validate_overrides(PARAMS, {"z": "5", "m": 5}) == {"z": "5", "m": 5}
    # a typed parameter keeps its own reading of the text
    assert validate_overrides(PARAMS, {"name": "5", "flag": "true"}, from_text=True) == {
        "name": "5",
        "flag": True,
    }
    with pytest.raises(InvalidValueError, match="z: nan is not JSON-like"):
        validate_overrides(PARAMS, {"z": "nan"}, from_text=True)


def test_soft_keywords_are_valid_names() -> None:
    params = infer_parameters(notebook("match = 1\n_ = 'x'\n"))
    assert validate_overrides(params, {"match": 2, "_": "y"}) == {"match": 2, "_": "y"}


def test_cell_helper_keeps_source_lines() -> None:
    assert code_cell("a\nb")["source"] == ["a\n", "b"]

"""Notebook parameters: inference from the ``parameters`` cell and override validation.

Types come from the annotation when it names one of :data:`TYPES` (papermill
itself only reads annotations), else from the literal value
(:func:`ast.literal_eval`). A default that is not a JSON-like literal
(``n = len(x)``, ``t = (1, 2)``) gets ``literal=False`` and ``default=None``:
the UI flags it and the export leaves it out of ``params.yaml``.

A parameter without a type (``"unknown"``: no annotation, and a default that
is ``None`` or not a literal) takes any JSON-like value; given as text (the
CLI's ``-p``), it is read as papermill's CLI reads it (:func:`resolve_text`:
``5`` an int, ``1.5`` a float, ``True``/``False`` a bool, ``None`` None, else
the text), so ``jupyter mlops run`` injects what ``papermill -p`` injects.
"""

from __future__ import annotations

import ast
import json
import keyword
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from jupyter_mlops.core.pipeline.notebook import cell_source, parameters_cell_index
from jupyter_mlops.exceptions import InvalidValueError, UsageError

__all__ = [
    "TYPES",
    "ParamType",
    "Parameter",
    "check_name",
    "infer_parameters",
    "is_json_like",
    "raise_invalid",
    "resolve_text",
    "validate_overrides",
]

ParamType = Literal["int", "float", "str", "bool", "list", "dict", "unknown"]
TYPES: tuple[ParamType, ...] = ("int", "float", "str", "bool", "list", "dict")
_PY_TYPES: dict[type, ParamType] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "list",
    dict: "dict",
}
TAG_HINT = (
    "tag the cell that assigns the parameters with 'parameters' "
    "(JupyterLab: select the cell, open the property inspector, Add Tag 'parameters'), "
    "or pick the cell in the export dialog"
)


@dataclass(frozen=True)
class Parameter:
    """One parameter of a notebook, as the ``parameters`` cell assigns it."""

    name: str
    type: ParamType
    default: Any
    literal: bool
    annotation: str | None
    line: int

    def describe(self) -> dict[str, Any]:
        """Every field by name: how ``jupyter mlops params`` and REST ``pipelines/parameters`` list it."""
        return asdict(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-ready form (``pipeline.yaml``, REST)."""
        out: dict[str, Any] = {"type": self.type, "default": self.default}
        if not self.literal:
            out["literal"] = False
        if self.annotation is not None:
            out["annotation"] = self.annotation
        return out


def is_json_like(value: object) -> bool:
    """None, bool, int, finite float, str, or lists / str-keyed dicts of those."""
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(is_json_like(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_like(v) for k, v in value.items())
    return False


def check_name(name: object) -> str | None:
    """Why ``name`` cannot be a parameter name, or None when it can."""
    if not isinstance(name, str) or not name.isidentifier():
        return f"{name!r} is not a Python identifier"
    if keyword.iskeyword(name):  # soft keywords (match, case, _) are valid names
        return f"{name!r} is a Python keyword"
    return None


def _annotation_type(node: ast.expr | None) -> ParamType | None:
    if isinstance(node, ast.Subscript):  # list[int], dict[str, float]
        node = node.value
    if isinstance(node, ast.Name) and node.id in TYPES:
        return node.id
    return None


def _literal(node: ast.expr | None) -> tuple[bool, Any]:
    if node is None:
        return False, None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    if not is_json_like(value):
        return False, None
    return True, value


def _parse(source: str, index: int) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    lines = [
        "" if line.lstrip().startswith(("%", "!", "?")) else line for line in source.splitlines()
    ]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError as exc:
        raise InvalidValueError(
            f"the parameters cell (cell {index}) is not valid Python: {exc.msg} (line {exc.lineno})",
            cell_index=index,
        ) from exc


def _assignments(tree: ast.Module) -> list[tuple[str, ast.expr | None, ast.expr | None, int]]:
    found: list[tuple[str, ast.expr | None, ast.expr | None, int]] = []
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.append((node.target.id, node.annotation, node.value, node.lineno))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.append((target.id, None, node.value, node.lineno))
                elif isinstance(target, ast.Tuple | ast.List):
                    values: list[ast.expr | None] = [None] * len(target.elts)
                    if isinstance(node.value, ast.Tuple | ast.List) and len(node.value.elts) == len(
                        target.elts
                    ):
                        values = list(node.value.elts)
                    for element, value in zip(target.elts, values, strict=True):
                        if isinstance(element, ast.Name):
                            found.append((element.id, None, value, node.lineno))
    return found


def infer_parameters(nb: Mapping[str, Any]) -> list[Parameter]:
    """The parameters assigned in the first cell tagged ``parameters``, in order.

    A name assigned twice keeps its first position and its last value (what
    the notebook would see). Raises :class:`UsageError` when no cell is tagged.
    """
    index = parameters_cell_index(dict(nb))
    if index is None:
        raise UsageError("the notebook has no cell tagged 'parameters'", hint=TAG_HINT)
    tree = _parse(cell_source(nb["cells"][index]), index)
    params: dict[str, Parameter] = {}
    for name, annotation, value, line in _assignments(tree):
        literal, default = _literal(value)
        declared = _annotation_type(annotation)
        inferred: ParamType = declared or (
            _PY_TYPES.get(type(default), "unknown") if literal else "unknown"
        )
        if declared == "float" and literal and type(default) is int:
            default = float(default)
        params[name] = Parameter(
            name=name,
            type=inferred,
            default=default,
            literal=literal,
            annotation=ast.unparse(annotation) if annotation is not None else None,
            line=line,
        )
    return list(params.values())


def _parse_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def resolve_text(text: str) -> Any:
    """``text`` as papermill's CLI reads an untyped ``-p`` value (its ``_resolve_type``).

    ``"True"``/``"False"`` -> bool, ``"None"`` -> None, what ``int()`` takes ->
    int, what ``float()`` takes -> float, anything else stays the text.
    """
    if text == "True":
        return True
    if text == "False":
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _coerce(param: Parameter, value: Any, from_text: bool) -> Any:
    """``value`` converted to ``param.type``; raises ValueError with the reason."""
    kind = param.type
    if kind == "str":
        if isinstance(value, str):
            return value
        raise ValueError(f"expected str, got {type(value).__name__} {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"expected bool (true or false), got {value!r}")
    if isinstance(value, str) and from_text:
        value = _parse_text(value) if kind != "unknown" else resolve_text(value)
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"expected int, got {value!r}")
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            result = float(value)
            if math.isfinite(result):
                return result
        raise ValueError(f"expected a finite float, got {value!r}")
    if not is_json_like(value):
        raise ValueError(
            f"{value!r} is not JSON-like (a finite number, true/false, null, text, list or dict)"
        )
    if kind == "list" and not isinstance(value, list):
        raise ValueError(f"expected list, got {value!r}")
    if kind == "dict" and not isinstance(value, dict):
        raise ValueError(f"expected dict, got {value!r}")
    return value


def validate_overrides(
    params: list[Parameter], overrides: Mapping[str, object], *, from_text: bool = False
) -> dict[str, object]:
    """``overrides`` checked against ``params`` and coerced to their types.

    ``from_text=True`` (CLI ``-p name=value``) parses strings as JSON, then
    YAML, where the type is not ``str``; bool then only takes ``true``/``false``;
    a parameter without a type reads them as papermill does (:func:`resolve_text`).
    Every problem is reported at once: unknown names (with the valid ones),
    names that are not identifiers or are keywords, values that do not fit.
    """
    known = {p.name: p for p in params}
    name_errors: list[str] = []
    value_errors: list[str] = []
    out: dict[str, object] = {}
    for name, value in overrides.items():
        problem = check_name(name)
        if problem is not None:
            name_errors.append(f"parameter name {problem}")
            continue
        if name not in known:
            name_errors.append(f"unknown parameter {name!r}")
            continue
        try:
            out[name] = _coerce(known[name], value, from_text)
        except ValueError as exc:
            value_errors.append(f"{name}: {exc}")
    if name_errors or value_errors:
        valid = ", ".join(sorted(known)) or "(none)"
        raise_invalid(name_errors, value_errors, hint=f"valid parameters: {valid}")
    return out


def raise_invalid(name_errors: list[str], value_errors: list[str], *, hint: str | None) -> None:
    """Raise one error listing every problem (``errors``); UsageError when a name is wrong."""
    errors = name_errors + value_errors
    cls = UsageError if name_errors else InvalidValueError
    raise cls(f"invalid parameters: {'; '.join(errors)}", hint=hint, errors=errors)

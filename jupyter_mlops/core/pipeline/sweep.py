"""Parameter overrides, grids and parameter sets, resolved against a pipeline's steps.

::

    checker = Checker({"prep": prep_params, "train": train_params}, from_text=True)
    base = checker.check({"train.lr": "0.3", "seed": "7"})  # {"train": {"lr": 0.3, "seed": 7},
                                                            #  "prep": {"seed": 7}}
    axes = checker.check_grid({"rows": ["1", "2"]})
    checker.raise_errors()                                  # every problem in one error
    trials = expand(base, axes, param_sets=[])              # one StepValues per trial

A name is ``STEP.PARAM`` (that step) or ``PARAM`` (every step that has it).
Every problem is collected, so the caller reports them all at once; nothing
here raises for bad values except :func:`Checker.raise_errors`. A step whose
notebook has no ``parameters`` cell (``untagged``) takes no values: naming it
is one error that says how to tag the cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from jupyter_mlops.core.pipeline.params import (
    Parameter,
    check_name,
    raise_invalid,
    validate_overrides,
)
from jupyter_mlops.exceptions import InvalidValueError, UsageError

__all__ = [
    "MAX_TRIALS",
    "Checker",
    "StepValues",
    "expand",
    "flatten_values",
    "merge",
    "untagged_message",
]

MAX_TRIALS = 1000
StepValues = dict[str, dict[str, Any]]
"""``{step: {param: value}}``: typed values per step."""


def merge(*layers: StepValues) -> StepValues:
    """The layers' values combined per step; later layers win."""
    out: StepValues = {}
    for layer in layers:
        for step, values in layer.items():
            out.setdefault(step, {}).update(values)
    return out


def flatten_values(document: Mapping[str, Any], steps: Sequence[str]) -> dict[str, Any]:
    """A ``params.yaml``-like mapping as flat names: ``{step: {p: v}}`` -> ``{"step.p": v}``.

    A key that is a step name and maps to a mapping is a step block; any other
    key is a parameter name (``PARAM`` or ``STEP.PARAM``) kept as it is.
    """
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(key, str) and key in steps and isinstance(value, Mapping):
            for name, inner in value.items():
                flat[f"{key}.{name}"] = inner
        else:
            flat[str(key)] = value
    return flat


def untagged_message(notebook: str) -> str:
    """The error for values given to ``notebook``, which has no ``parameters`` cell.

    One item of the error's ``errors`` (the message joins the items with ``"; "``).
    """
    return (
        f"notebook {notebook} has no cell tagged 'parameters', so it takes no values: tag the "
        "cell that assigns them (JupyterLab: select it, open the property inspector, Add Tag "
        "'parameters') or run it without parameters (-p, --grid, -f)"
    )


class Checker:
    """Checks parameter values against the steps' parameters, collecting every error.

    ``untagged``: ``{step: notebook}`` for steps whose notebook has no
    ``parameters`` cell (they run as they are; any value for them is an error).
    """

    def __init__(
        self,
        steps: Mapping[str, list[Parameter]],
        *,
        from_text: bool = False,
        untagged: Mapping[str, str] | None = None,
    ) -> None:
        self.steps = dict(steps)
        self.from_text = from_text
        self.untagged = dict(untagged or {})
        self.name_errors: list[str] = []
        self.value_errors: list[str] = []
        self.reported: set[str] = set()  # untagged steps already named in an error

    def absorb(self, other: Checker) -> None:
        """Take ``other``'s errors into this checker (each message once)."""
        self.name_errors = list(dict.fromkeys(self.name_errors + other.name_errors))
        self.value_errors = list(dict.fromkeys(self.value_errors + other.value_errors))
        self.reported |= other.reported

    def _report_untagged(self, steps: list[str]) -> None:
        for step in steps:
            if step not in self.reported:
                self.reported.add(step)
                self.name_errors.append(untagged_message(self.untagged[step]))

    def valid_names(self) -> list[str]:
        """Every settable name, qualified by step when there is more than one step."""
        if len(self.steps) == 1:
            return sorted(p.name for params in self.steps.values() for p in params)
        return sorted(f"{step}.{p.name}" for step, params in self.steps.items() for p in params)

    def _targets(self, name: str, what: str) -> list[tuple[str, str]]:
        if "." in name:
            step, param = name.split(".", 1)
            if step in self.untagged:
                self._report_untagged([step])
                return []
            if step not in self.steps:
                self.name_errors.append(
                    f"{what}{name!r}: unknown step {step!r} (steps: {', '.join(self.steps)})"
                )
                return []
            return [(step, param)]
        problem = check_name(name)
        if problem is not None:
            self.name_errors.append(f"{what}parameter name {problem}")
            return []
        targets = [
            (step, name) for step, params in self.steps.items() if name in {p.name for p in params}
        ]
        if not targets and self.untagged and set(self.untagged) >= set(self.steps):
            self._report_untagged(list(self.untagged))  # no step takes parameters at all
        elif not targets:
            self.name_errors.append(f"{what}unknown parameter {name!r}")
        return targets

    def check(self, values: Mapping[str, object], *, what: str = "") -> StepValues:
        """``values`` (``STEP.PARAM`` or ``PARAM`` names) typed per step; errors are collected."""
        out: StepValues = {}
        for name, value in values.items():
            for step, param in self._targets(str(name), what):
                prefix = f"{what}{step}." if len(self.steps) > 1 else what
                try:
                    typed = validate_overrides(
                        self.steps[step], {param: value}, from_text=self.from_text
                    )
                except InvalidValueError as exc:
                    self.value_errors.append(prefix + _detail(exc))
                    continue
                except UsageError as exc:
                    self.name_errors.append(prefix + _detail(exc))
                    continue
                out.setdefault(step, {}).update(typed)
        return out

    def check_grid(self, grid: Mapping[str, Sequence[object]]) -> list[list[StepValues]]:
        """Per grid name, its values typed (one :data:`StepValues` each)."""
        axes: list[list[StepValues]] = []
        for name, values in grid.items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
                self.value_errors.append(f"grid {name!r}: needs a non-empty list of values")
                continue
            before = len(self.name_errors)
            axis = []
            for value in values:
                axis.append(self.check({name: value}, what="grid "))
                if len(self.name_errors) > before:
                    break  # a bad name: one message, not one per value
            axes.append(axis)
        return axes

    def raise_errors(self) -> None:
        """Raise one error listing every problem found so far (UsageError for names)."""
        if not (self.name_errors or self.value_errors):
            return
        valid = ", ".join(self.valid_names()) or "(none)"
        hint: str | None = f"valid parameters: {valid}"
        if len(self.steps) > 1:
            hint = f"{hint} (a name without 'STEP.' sets it in every step that has it)"
        if self.reported and not self.valid_names():
            hint = None  # the message says what to do
        raise_invalid(self.name_errors, self.value_errors, hint=hint)


def _detail(exc: UsageError) -> str:
    """The problems of one :func:`validate_overrides` error, without its ``invalid parameters:``."""
    return "; ".join(exc.errors) if exc.errors else exc.message


def expand(
    base: StepValues, axes: Sequence[Sequence[StepValues]], param_sets: Sequence[StepValues]
) -> list[StepValues]:
    """The trials: each parameter set (or none) times the cartesian product of the grid axes."""
    sets = list(param_sets) or [{}]
    size = len(sets)
    for axis in axes:
        size *= len(axis)
    if size > MAX_TRIALS:
        raise UsageError(
            f"the sweep has {size} trials; at most {MAX_TRIALS} are allowed",
            hint="use fewer grid values or split the sweep",
        )
    return [
        merge(base, param_set, *point) for param_set in sets for point in itertools.product(*axes)
    ]

"""The panel's copy of the tag vocabulary (``labextension/src/api/tags.ts``)
names each ``mlops.*`` tag as ``jupyter_mlops.core.tags`` does: same constant
name, same value."""

from __future__ import annotations

import re
from pathlib import Path

from jupyter_mlops.core.tags import all_tags

TAGS_TS = Path(__file__).resolve().parents[2] / "labextension" / "src" / "api" / "tags.ts"

_OBJECT = re.compile(r"export const TAGS = \{(?P<body>.*?)\} as const;", re.S)
_ENTRY = re.compile(r"^\s*(?P<name>[A-Z][A-Z0-9_]*)\s*:\s*'(?P<value>[^']*)'\s*,?\s*$", re.M)


def panel_tags() -> dict[str, str]:
    """Constant name -> tag of the panel's ``TAGS`` object."""
    match = _OBJECT.search(TAGS_TS.read_text(encoding="utf-8"))
    assert match, f"no `export const TAGS = {{...}} as const;` in {TAGS_TS}"
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", match.group("body"), flags=re.S)
    entries = {m.group("name"): m.group("value") for m in _ENTRY.finditer(body)}
    leftover = _ENTRY.sub("", body).strip()
    assert not leftover, f"entries of TAGS that are not NAME: 'value': {leftover!r}"
    return entries


def test_panel_tags_are_in_the_vocabulary() -> None:
    tags = panel_tags()
    assert tags, "the panel's TAGS object is empty"
    vocabulary = all_tags()
    for name, value in tags.items():
        assert name in vocabulary, f"TAGS.{name} is not a constant of jupyter_mlops.core.tags"
        assert vocabulary[name] == value, (
            f"TAGS.{name} is {value!r} in the panel but {vocabulary[name]!r} in core/tags.py"
        )


def test_the_panel_spells_no_tag_outside_tags_ts() -> None:
    src = TAGS_TS.parent.parent
    spelled = {
        str(path.relative_to(src))
        for path in src.rglob("*.ts*")
        if path != TAGS_TS
        for value in all_tags().values()
        if f"'{value}'" in path.read_text(encoding="utf-8")
        or f'"{value}"' in path.read_text(encoding="utf-8")
    }
    assert not spelled, f"tag names spelled outside api/tags.ts: {sorted(spelled)}"


def test_python_spells_no_tag_outside_core_tags() -> None:
    """Every ``mlops.*`` tag written or read in ``jupyter_mlops`` goes through core/tags.py."""
    package = Path(__file__).resolve().parents[2] / "jupyter_mlops"
    literal = re.compile(r"""["']mlops\.[A-Za-z_]+[A-Za-z0-9_.]*["']""")
    spelled = sorted(
        f"{path.relative_to(package)}: {match.group(0)}"
        for path in package.rglob("*.py")
        if path.name != "tags.py" and "labextension" not in path.parts
        for match in literal.finditer(path.read_text(encoding="utf-8"))
    )
    assert spelled == []
    assert literal.search('x = "mlops.env.hash"')  # the pattern finds what it is for

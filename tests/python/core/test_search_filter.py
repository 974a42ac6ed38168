"""The search box translation: MLflow's filter syntax, the shorthand, and the errors of both."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.core.tracking.search_filter import (
    SEARCH_HINT,
    KnownKeys,
    is_mlflow_syntax,
    needs_known_keys,
    translate_search,
)
from jupyter_mlops.exceptions import UsageError

KNOWN = KnownKeys.of(
    params=["lr", "model", "both"],
    metrics=["accuracy", "val/loss", "both"],
    tags=["epic", "mlops.project"],
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("   ", ""),
        (
            "lr=0.3 accuracy>0.9 epic=MLOPS-12",
            "params.lr = '0.3' and metrics.accuracy > 0.9 and tags.epic = 'MLOPS-12'",
        ),
        ("resnet", "attributes.run_name ILIKE '%resnet%'"),
        (
            'resnet "big run"',
            "attributes.run_name ILIKE '%resnet%' and attributes.run_name ILIKE '%big run%'",
        ),
        ("lr = 0.3 and model~rf", "params.lr = '0.3' and params.model ILIKE '%rf%'"),
        ("val/loss<=0.25", "metrics.`val/loss` <= 0.25"),
        ("accuracy!=1", "metrics.accuracy != 1.0"),
        ("mlops.project=churn", "tags.mlops.project = 'churn'"),
        ('model="it\'s"', 'params.model = "it\'s"'),
        ("status=failed", "attributes.status = 'FAILED'"),
        ("name=exact", "attributes.run_name = 'exact'"),
        ("name~part", "attributes.run_name ILIKE '%part%'"),
        # a number value picks the metric of a key that is both; a text value the param
        ("both=2", "metrics.both = 2.0"),
        ("both=x", "params.both = 'x'"),
        # an unknown key compared by order is a metric
        ("loss<1e-3", "metrics.loss < 0.001"),
    ],
)
def test_shorthand(text: str, expected: str) -> None:
    assert translate_search(text, KNOWN) == expected


def test_explicit_kinds_inside_shorthand() -> None:
    text = "accuracy>0.5 params.unseen=1 tags.owner=me metrics.new<3"
    assert translate_search(text, KnownKeys()) == (
        "metrics.accuracy > 0.5 and params.unseen = '1' and tags.owner = 'me' and metrics.new < 3.0"
    )


@pytest.mark.parametrize(
    "text",
    [
        "params.lr = '0.3' and metrics.accuracy > 0.9",
        "metrics.`val/loss` < 0.2",
        "tags.epic = 'MLOPS-12' AND attributes.status = 'FINISHED'",
        "attributes.run_name ILIKE '%res%'",
    ],
)
def test_mlflow_syntax_passes_unchanged(text: str) -> None:
    assert is_mlflow_syntax(text)
    assert not needs_known_keys(text)
    assert translate_search(text, None) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("params.lr = 0.3", "The filter does not parse: .*quoted string"),
        # starting with params. makes it MLflow's syntax, where a param value is quoted
        ("params.unseen=1 accuracy>0.5", "The filter does not parse"),
        ("metrics.accuracy >", "The filter does not parse"),
        ("params.lr = '0.3' or metrics.a > 1", "The filter does not parse"),
        ("foo=1", "No param, metric or tag called 'foo'"),
        ("lr>0.3", "Param 'lr' holds text"),
        ("epic>1", "Tag 'epic' holds text"),
        ("accuracy=high", "Metric 'accuracy' compares with a number"),
        ("accuracy~9", "Metric 'accuracy' compares with a number"),
        ("status=done", "Invalid status"),
        ("name>3", "A run name holds text"),
        ("'unclosed", "unclosed quote"),
        ('model="a\'b""', "unclosed quote"),
        pytest.param("x" * 1001, "longer than 1000", id="too-long"),
    ],
)
def test_errors_say_what_to_do(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        translate_search(text, KNOWN)
    assert info.value.hint


def test_unknown_key_suggests_close_keys() -> None:
    with pytest.raises(UsageError) as info:
        translate_search("accurcy>=0.5 model=x", KnownKeys.of(metrics=["accuracy"]))
    # an order comparison of an unknown key is a metric: the second token fails
    assert "'model'" in info.value.message
    with pytest.raises(UsageError) as info:
        translate_search("accurcy=0.5", KnownKeys.of(metrics=["accuracy"]))
    assert "accuracy" in (info.value.hint or "")


def test_hint_shows_both_syntaxes() -> None:
    with pytest.raises(UsageError) as info:
        translate_search("metrics.a > > 1")
    assert info.value.hint == SEARCH_HINT
    assert "params.lr = '0.3'" in SEARCH_HINT
    assert "lr=0.3" in SEARCH_HINT


def test_needs_known_keys_only_for_bare_pairs() -> None:
    assert needs_known_keys("lr=0.3")
    assert not needs_known_keys("resnet params.lr=0.3 status=failed")
    assert not needs_known_keys("params.lr = '0.3'")
    assert not needs_known_keys("")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_a_valid_filter_or_a_usage_error(text: str) -> None:
    """Nothing the user types reaches MLflow unchecked: it parses or it is a UsageError."""
    from mlflow.utils.search_utils import SearchUtils

    try:
        result = translate_search(text, KNOWN)
    except UsageError as exc:
        hint = exc.hint
        result = None
    if result is None:
        assert hint
        return
    SearchUtils.parse_search_filter(result)
    if text.strip() and not is_mlflow_syntax(text):
        for clause in SearchUtils.parse_search_filter(result):
            assert clause["type"] in {"attribute", "parameter", "metric", "tag"}

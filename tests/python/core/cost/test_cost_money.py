"""The one money format: each threshold, each symbol, unknown codes."""

from __future__ import annotations

import pytest

from jupyter_mlops.core.cost import alerts
from jupyter_mlops.core.cost.money import format_money


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (12.4, "$12.40"),
        (1234.5, "$1,234.50"),
        (1234567.891, "$1,234,567.89"),
        (0.42, "$0.42"),
        (0.01, "$0.01"),
        (0.0031, "$0.0031"),  # below a cent: two significant digits
        (0.003149, "$0.0031"),
        (0.00012, "$0.00012"),
        (0.000123456, "$0.00012"),
        (0.0001, "$0.00010"),
        (0.00009999, "<$0.0001"),  # below a hundredth of a cent
        (1e-12, "<$0.0001"),
        (0.0, "$0.00"),
        (0.009999, "$0.01"),  # two digits would round up to a cent: shown as one
        (-0.42, "-$0.42"),
        (-0.0031, "-$0.0031"),
        (-0.00001, ">-$0.0001"),  # as the panel writes it
    ],
)
def test_dollars(amount: float, text: str) -> None:
    assert format_money(amount, "USD") == text


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("EUR", ["€12.40", "€0.0031", "<€0.0001", "€0.00"]),
        ("gbp", ["£12.40", "£0.0031", "<£0.0001", "£0.00"]),
        ("JPY", ["¥12.40", "¥0.0031", "<¥0.0001", "¥0.00"]),
        ("INR", ["₹12.40", "₹0.0031", "<₹0.0001", "₹0.00"]),
        ("chf", ["12.40 CHF", "0.0031 CHF", "<0.0001 CHF", "0.00 CHF"]),
    ],
)
def test_symbols_and_codes(currency: str, expected: list[str]) -> None:
    assert [format_money(a, currency) for a in (12.4, 0.0031, 0.00001, 0.0)] == expected


def test_alerts_reexports_the_one_format() -> None:
    assert alerts.format_money is format_money
    assert format_money(float("nan"), "USD") == "$nan"

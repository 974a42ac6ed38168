"""The one money format of jupyter-mlops (status bar, tables, CLI, tags).

``$12.40``, ``$1,234.50``, ``$0.42``; below a cent two significant digits
(``$0.0031``, ``$0.00012``); below a hundredth of a cent ``<$0.0001``; zero
``$0.00``. Known symbols: $, €, £, ¥, ₹; other currencies as a code after the
number (``12.40 CHF``, ``<0.0001 CHF``). Negative amounts keep their sign in
front (``-$0.42``, ``>-$0.0001``). CSV and JSON never go through this: they keep full precision.
"""

from __future__ import annotations

import math

__all__ = ["SYMBOLS", "format_money"]

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
_FLOOR = 0.0001


def _number(amount: float) -> str:
    if amount >= 0.01 or amount == 0:
        return f"{amount:,.2f}"
    # two significant digits below a cent: 0.0031, 0.00012
    decimals = 1 - math.floor(math.log10(amount))
    text = f"{amount:.{decimals}f}"
    if float(text) >= 0.01:  # rounding carried it up to a cent
        return f"{amount:,.2f}"
    return text


def format_money(amount: float, currency: str = "USD") -> str:
    """``amount`` of ``currency`` (an ISO code) for people to read; see the module doc."""
    code = (currency or "USD").upper()
    symbol = SYMBOLS.get(code)
    if not math.isfinite(amount):
        return f"{symbol}{amount}" if symbol else f"{amount} {code}"
    sign = "-" if amount < 0 else ""
    size = abs(amount)
    below = 0 < size < _FLOOR
    number = f"{_FLOOR}" if below else _number(size)
    if below:  # <$0.0001, and >-$0.0001 below zero (as the panel writes them)
        sign, less = ("", ">-") if sign else ("", "<")
    else:
        less = ""
    if symbol:
        return f"{less}{sign}{symbol}{number}"
    return f"{less}{sign}{number} {code}"

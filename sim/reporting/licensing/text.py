"""How the report writes numbers (shared by the recommendation, tables and the page)."""

from __future__ import annotations


def money(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value - round(value)) < 0.005:
        return f"${value:,.0f}"
    return f"${value:,.2f}"


def risk_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"

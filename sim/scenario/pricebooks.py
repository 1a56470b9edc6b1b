"""Price-book files: read one YAML file, report problems as file:line, build the book.

``models.licensing`` holds the price-book *data model* and never reads a file;
:mod:`sim.catalogue` knows where the shipped books live (``load_price_book("current")``)
and calls :func:`read_price_book` here, the one place that turns a file into a
``PriceBook``. It reads with the scenario loader's YAML reader
(:mod:`sim.scenario.yamlio`), so every problem is reported as
``file:line: field (SKU id): message``, and builds the book with
:func:`models.licensing.build_price_book`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from models.licensing import PriceBook, PriceBookError, PriceBookFile, build_price_book
from sim.scenario.yamlio import InputError, PathKey, load_yaml, validation_error


def read_price_book_file(path: Path) -> PriceBookFile:
    """One price-book file, validated (raises ``PriceBookError`` naming file and line)."""
    try:
        data, linemap = load_yaml(path)
    except InputError as exc:
        raise PriceBookError(exc.message) from None
    if not isinstance(data, dict):
        raise PriceBookError(f"{path}:1: a price book is a mapping (era, skus, ...)")

    def sku_named(loc: PathKey) -> str:
        skus = data.get("skus")
        if len(loc) >= 2 and loc[0] == "skus" and isinstance(loc[1], int) and isinstance(
                skus, list) and loc[1] < len(skus):
            sku = skus[loc[1]]
            if isinstance(sku, dict) and isinstance(sku.get("id"), str):
                return f" (SKU {sku['id']})"
        return ""

    try:
        return PriceBookFile.model_validate(data)
    except ValidationError as exc:
        raise PriceBookError(validation_error(exc, linemap, label=sku_named).message) from None


def read_price_book(
    path: str | Path,
    overrides: Mapping[str, float] | None = None,
    *,
    as_of: date | None = None,
    billed_monthly: bool = False,
) -> PriceBook:
    """Load and validate one price-book file (the schema of ``scenarios/pricebooks/``).

    ``overrides``, ``as_of`` and ``billed_monthly`` are those of
    :func:`models.licensing.build_price_book`. Raises ``PriceBookError`` naming the file,
    line and field of every problem found.
    """
    path = Path(path)
    parsed = read_price_book_file(path)
    return build_price_book(parsed, overrides, as_of=as_of, billed_monthly=billed_monthly,
                            source=str(path))

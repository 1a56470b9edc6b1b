"""Price-book files: read one YAML file, report problems as file:line, build the book.

``models.licensing`` holds the price-book *data model* and never reads a file;
:mod:`sim.catalogue` knows where the shipped books live; :func:`load_price_book` takes an
era name (``load_price_book("current")``) or a file and calls :func:`read_price_book`, the
one place that turns a file into a ``PriceBook``. It reads with the scenario loader's YAML reader
(:mod:`sim.scenario.yamlio`), so every problem is reported as
``file:line: field (SKU id): message``, and builds the book with
:func:`models.licensing.build_price_book`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from models.licensing import PriceBook, PriceBookError, PriceBookFile, build_price_book
from sim import catalogue
from sim.scenario.yamlio import InputError, PathKey, load_yaml, loads_yaml, validation_error


def read_price_book_file(path: Path) -> PriceBookFile:
    """One price-book file, validated (raises ``PriceBookError`` naming file and line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        try:
            load_yaml(path)  # says why, in the loader's words (no such file, not UTF-8, ...)
        except InputError as exc:
            raise PriceBookError(exc.message) from None
        raise  # readable a moment later: the first error stands
    return _parse_price_book(str(path), text)


# Keyed by the file's name and its whole text, so a changed file is parsed again: the same
# text always gives the same (frozen) book file. Every scenario loads its price book, and
# parsing one takes longer than the rest of a small scenario (about 13 ms); the three
# shipped books are the ones read again and again (a sweep, a suite, the tests).
@functools.lru_cache(maxsize=16)
def _parse_price_book(file: str, text: str) -> PriceBookFile:
    try:
        data, linemap = loads_yaml(text, file)
    except InputError as exc:
        raise PriceBookError(exc.message) from None
    if not isinstance(data, dict):
        raise PriceBookError(f"{file}:1: a price book is a mapping (era, skus, ...)")

    def sku_named(loc: PathKey) -> str:
        skus = data.get("skus")
        if (
            len(loc) >= 2
            and loc[0] == "skus"
            and isinstance(loc[1], int)
            and isinstance(skus, list)
            and loc[1] < len(skus)
        ):
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
    return build_price_book(
        parsed, overrides, as_of=as_of, billed_monthly=billed_monthly, source=str(path)
    )


def load_price_book(
    era_or_path: str | Path,
    overrides: Mapping[str, float] | None = None,
    *,
    as_of: date | None = None,
    billed_monthly: bool = False,
    near: Path | None = None,
) -> PriceBook:
    """Load a price book: an era name (``"2017"``, ``"2019"``, ``"current"``, shipped with
    the package) or a YAML file of the same schema. A relative file path is taken relative
    to ``near`` (a scenario's folder) when given, else to the working directory.

    The remaining arguments are :func:`read_price_book`'s (which reads one file and knows
    nothing of where the catalogue lives).
    """
    if isinstance(era_or_path, str) and era_or_path in catalogue.ERAS:
        path = catalogue.price_book_file(era_or_path)
    else:
        path = Path(era_or_path)
        if near is not None and not path.is_absolute():
            path = near / path
        if not path.is_file():
            raise PriceBookError(
                f"no price book {str(era_or_path)!r}: give an era "
                f"({', '.join(catalogue.ERAS)}) or a YAML file"
                + (f" (relative to {near})" if near is not None else "")
            )
    return read_price_book(path, overrides, as_of=as_of, billed_monthly=billed_monthly)

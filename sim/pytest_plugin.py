"""pytest plugin: each regression-suite case is a test item.

Registered through the ``pytest11`` entry point, so it is active wherever the package is
installed. pytest offers it every file it visits; YAML files with a top-level
``expect:`` in a folder named ``suite`` (``scenarios/suite/*.yaml``) are collected as
suite files, and each of their cases (one per design, see :mod:`sim.study.regression`)
becomes an item named after the design::

    python -m pytest scenarios/suite/                  # the suite alone
    python -m pytest scenarios/suite/prospect_to_cash.yaml::p2c-2017

A failing item prints the same diff as ``p2c check``. A case marked ``slow: true`` in its
``expect:`` block carries the ``slow`` marker (left out of the default run). The default
``python -m pytest`` (testpaths = tests) reaches the same cases through
``tests/test_regression_suite.py``.

Imports of the simulator happen inside the hooks: the plugin loads in every pytest
session of the environment and must cost nothing there.

May import: ``sim.scenario``, ``sim.study``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

_EXPECT = re.compile(r"^expect\s*:", re.MULTILINE)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    """Collect ``suite/*.yaml`` files that have a top-level ``expect:`` as regression suites
    (other YAML, in this project or another one using the same environment, is left
    alone)."""
    if file_path.suffix not in (".yaml", ".yml") or file_path.parent.name != "suite":
        return None
    try:
        text = file_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not _EXPECT.search(text):
        return None
    return SuiteFile.from_parent(parent, path=file_path)


class RegressionFound(Exception):
    """A case did not meet its expectations; carries the result for the report."""

    def __init__(self, result: Any) -> None:
        super().__init__(result.case.id)
        self.result = result


class SuiteFile(pytest.File):
    """One suite file: one item per case."""

    def collect(self):
        # Imported when a suite file is collected: pytest loads this plugin in every session.
        from sim.scenario.yamlio import InputError
        from sim.study.regression import load_suite_file

        try:
            cases = load_suite_file(self.path)
        except InputError as exc:
            raise self.CollectError(exc.message) from None
        for case in cases:
            item = SuiteItem.from_parent(self, name=case.design_name, case=case)
            if case.slow:
                item.add_marker(pytest.mark.slow)
            yield item


class SuiteItem(pytest.Item):
    """One case: run its replications in this process, judge, fail with the diff."""

    def __init__(self, *, case: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        # Imported when a suite file is collected: pytest loads this plugin in every session.
        from sim.study.regression import check_case

        result = check_case(self.case)
        if not result.passed:
            raise RegressionFound(result)

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        if isinstance(excinfo.value, RegressionFound):
            return "\n".join(excinfo.value.result.lines())
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"regression suite {self.case.id}"

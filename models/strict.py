"""The one strict pydantic base every file format of the testbed is validated with.

A key the model does not know is an error (``extra="forbid"``), so a typo in a scenario,
design, sweep, suite or price-book file is reported at its line instead of being
ignored; a validated value is frozen, so what was checked is what runs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A pydantic model that refuses unknown keys and cannot be changed once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

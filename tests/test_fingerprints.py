"""Every design records and concludes exactly what it did when the fingerprints were
pinned: trace hashes, event counts, metrics and verdicts (``tests/fingerprints.py``).

The performance work of issue 17 changes how runs are computed, never what they are; a
change of behaviour that is meant re-pins with ``python tests/fingerprints.py --write``
and says why in its commit.
"""

from __future__ import annotations

import json

from fingerprints import PINNED, differences, fingerprints


def test_every_design_records_and_concludes_what_was_pinned():
    now = fingerprints()
    diff = differences(now, json.loads(PINNED.read_text()))
    assert not diff, "fingerprints changed (python tests/fingerprints.py):\n" + "\n".join(diff)


def test_a_changed_run_is_noticed():
    # The comparison itself: one altered hash, one missing run, both reported.
    pinned = {"a": {"trace": "1", "events": 1, "metrics": "m", "verdicts": "v", "statuses": {}}}
    changed = {"a": dict(pinned["a"], trace="2"), "b": pinned["a"]}
    assert differences(changed, pinned) == ["a: trace differ", "b: new differ"]
    assert differences({}, pinned) == ["a: missing differ"]

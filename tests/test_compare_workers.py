"""`p2c compare`'s worker processes: forked from `p2c`, they must not keep its SIGTERM
handler, or the pool's terminate() at the end makes an idle worker print a
``Terminated`` traceback on a run that succeeded (seen once in the last session)."""

from __future__ import annotations

import signal

from sim.cli.errors import handle_sigterm
from sim.study.compare import map_designs


def _sigterm_handling(name: str) -> str:
    return "default" if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else "inherited"


def test_compare_workers_die_quietly_when_the_pool_is_terminated():
    previous = handle_sigterm()  # as under `p2c compare`
    try:
        done = map_designs(_sigterm_handling, ["a", "b", "c"], workers=2)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert {name: result for name, (result, _) in done.items()} == dict.fromkeys(
        ["a", "b", "c"], "default"
    )

"""Studies over many runs: compare, sweeps (spec, sampling, plan, run, output), stats,
the results store, executors and the regression suite.

May import: ``models``, ``sim.catalogue``, ``sim.scenario``, ``sim.engine``, ``sim.checker``.
"""

"""The ``p2c`` command line: one module per command, one way of reporting errors.

The top of the data flow, and nothing imports it. May import: ``models``,
``sim.catalogue``, ``sim.scenario``, ``sim.lint``, ``sim.engine``, ``sim.checker``,
``sim.study``, ``sim.calibration``, ``sim.reporting``, ``sim.api``, ``sim.bench``,
``sim.history`` (``p2c run`` reads its run folder's history back for the timelines).
"""

"""An organisation from its own data: audit exports of a run (``p2c audit``) and a
scenario fitted to exports (``p2c calibrate``).

May import: ``models``, ``sim.history``, ``sim.catalogue``, ``sim.scenario``, ``sim.engine``,
``sim.checker``, ``sim.study``.
"""

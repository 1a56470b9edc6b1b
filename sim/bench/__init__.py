"""``p2c bench``: the performance targets of DESIGN.md, measured side by side.

May import: ``models``, ``sim.history``, ``sim.catalogue``, ``sim.scenario``, ``sim.engine``,
``sim.checker``, ``sim.study`` (it times them).
"""

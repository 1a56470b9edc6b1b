"""What people read: run summaries, notebook plots, anomaly timelines and the licensing
decision report (options, recommendation, charts, HTML).

May import (everything upstream): ``models``, ``sim.catalogue``, ``sim.scenario``, ``sim.engine``,
``sim.checker``, ``sim.study``.
"""

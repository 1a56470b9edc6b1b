"""What people read: run summaries, notebook plots, anomaly timelines and the licensing
decision report (options, recommendation, charts, HTML).

Everything upstream. May import: ``models``, ``sim.catalogue``, ``sim.scenario``,
``sim.engine``, ``sim.checker``, ``sim.study``.
"""

"""The engine: gives the model time.

World, clock, seeded streams, the workload's SimPy processes, transport, faults,
licences as simulation input, metrics and the runner that makes a run folder (writing
the history in the format of :mod:`sim.history`). It drives ``models/`` and owns none of
the business logic.

May import: ``models``, ``sim.history``, ``sim.catalogue``, ``sim.scenario``. Never:
``sim.checker`` and what lies downstream of it (``study``, ``reporting``, ``cli``).
"""

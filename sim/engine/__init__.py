"""The engine: gives the model time.

World, clock, seeded streams, the workload's SimPy processes, transport, faults,
licences as simulation input, the history writer, metrics and the runner that makes a
run folder. It drives ``models/`` and owns none of the business logic.

May import: ``models``, ``sim.catalogue``, ``sim.scenario``. Never: ``sim.checker`` and what lies
downstream of it (``study``, ``reporting``, ``cli``).
"""

"""The system under test: the integration's sync logic as plain Python.

Records and entities, the systems (Sales, the hub, Operations) and their replicas, the
messages and maps between them, throttling, the design (pydantic), the concurrency rules
(``concurrency/``), licensing (``licensing/``, price books passed in as data), the
integration that wires them, and the clock's words for simulated time. No simpy, no file
paths, no wall clock: ``sim/`` gives the model time and input, and reads what it emits.

May import: nothing outside ``models`` (the standard library, numpy, pydantic; never
``sim`` or simpy).
"""

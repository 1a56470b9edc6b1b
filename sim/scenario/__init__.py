"""Scenario files: the pydantic spec, loading (YAML, ``extends``), errors with file:line.

May import: ``models``, ``sim.catalogue``. Never: ``sim.engine`` or anything downstream.
"""

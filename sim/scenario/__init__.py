"""Scenario files: the pydantic spec, loading (YAML, ``extends``), errors with file:line.

May import: ``models``. Never: ``sim.engine`` or anything downstream.
"""

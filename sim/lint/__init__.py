"""``p2c lint``: static analysis of a design's replica graph (networkx).

May import: ``models``, ``sim.scenario``.
"""

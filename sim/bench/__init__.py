"""``p2c bench``: the performance targets of DESIGN.md, measured side by side.

May import any other part of ``sim`` (it times them).
"""

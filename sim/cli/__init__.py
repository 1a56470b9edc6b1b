"""The ``p2c`` command line: one module per command, one way of reporting errors.

The top of the data flow: may import any other part of ``sim``; nothing imports it.
"""

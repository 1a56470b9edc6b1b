"""Static analysis of an integration design: what its topology allows before anything runs.

A design (``models/design.py``) says where users may save each entity (``editable``) and
which maps copy it from one system to another. Before simulating a single day, the shape
of that data already answers some of the architects' questions, the way a type checker
answers some questions about a program before it runs:

- a system where users may save a customer, but from which no map carries the change
  anywhere, keeps the edit to itself until the next upsert from the other side replaces
  it (the 2017 seed post's nagging question);
- two systems that both accept saves and feed each other will lose concurrent edits
  unless the design controls concurrency;
- a loop of live or queued maps without echo suppression bounces every change;
- a contact copied into a system where its account never arrives points at nothing.

**The replica graph.** Each node is a *replica*: one entity's copy in one system,
``(system, entity)``. A system holds a replica of an entity when a map reads or writes
the entity there, or when users may save the entity there. Each edge is a map from the
source replica to the target replica, carrying the map's transport and schedule. Edges
only ever join replicas of the same entity, so "can a change made here reach there" is
plain graph reachability (networkx), and echo loops are the graph's directed cycles.

**Findings.** :func:`lint` returns :class:`Finding` records: a severity (``error`` when
the design cannot keep its data right, ``warning`` when it can but something is likely
to hurt, ``info`` for facts worth knowing), a stable ``code``, the entity and systems
involved, a message in business words and a ``why`` sentence that teaches the concept.
The analysis is deliberately conservative and cheap: it reads only the design and the
entity catalogue, never a history, and it ignores row filters (``when``) when judging
reachability, so "no path" is certain while "a path exists" may still be narrowed by a
filter (reported separately as ``filtered-edits``).

``p2c lint DESIGN_OR_SCENARIO`` (:mod:`sim.cli.lint`) prints the findings, draws the graph
and exits 1 when any finding is an error.

The modules: :mod:`~sim.lint.graph` (loading the design, the replica graph),
:mod:`~sim.lint.rules` (the findings and the checks that make them),
:mod:`~sim.lint.rendering` (the PNG and the printed report).

May import: ``models``, ``sim.scenario``.
"""

"""Sweeps: one scenario, many configurations, replicated runs, confidence intervals.

A single run answers "what happened this week"; an architect's question is usually
"what happens *as* something changes": the batch interval, how often sales reps edit
accounts, the design. A sweep file names a scenario and the **factors** to vary; every
combination of factor values (a **configuration**) is run several times, once per
**replication**, and each metric of interest is reported per configuration as a mean
with a 95% confidence interval.

.. code-block:: yaml

    name: batch_interval
    scenario: ../prospect_to_cash.yaml       # relative to this file
    overrides: {duration_days: 2}            # applied to every configuration
    designs: [p2c-2017, readonly-workaround] # optional: the design is a factor too
    factors:
      design.batch.interval_s: [300, 900, 1800]            # levels
      roles.sales_rep.actions.edit_account: {low: 0.2, high: 1.6, points: 3}  # a range
    sampler: grid                            # or latin_hypercube with samples: N
    replications: 5
    seed: 7                                  # root seed of the replications
    metrics: [overwritten_writes, blocked_user_s]
    objectives: {overwritten_writes: min, blocked_user_s: min}
    adaptive: {metric: overwritten_writes, relative_half_width: 0.1, max_replications: 20}

**Factors are dotted paths into the scenario file** (``design.batch.interval_s``,
``roles.sales_rep.headcount``, ``duration_days``); :func:`apply_overrides` sets them on
a copy of the scenario's data (a design given by name becomes ``{extends: NAME}``
first) and :func:`configure` validates the result exactly as ``p2c run`` would. Every
configuration is built and validated before the first run starts, so a typo fails in a
second with ``file:line`` and exit code 2, not after an hour.

**Samplers.** ``grid`` crosses every level of every factor (a range contributes
``points`` evenly spaced values, geometrically spaced with ``log: true``).
``latin_hypercube`` draws ``samples`` points: each factor's range is cut into
``samples`` equal strata and every stratum is used exactly once, in an order shuffled
per factor, so a few points cover every factor's whole range (McKay, Beckman and
Conover, 1979). The draw is seeded by the sweep's root seed. The design factor is never
sampled: every sample point runs under every listed design, so designs are compared
on identical configurations.

**Replications and common random numbers.** Replication ``r`` runs with seed
:func:`replication_seed` ``(root, r)`` in *every* configuration. Two configurations then
see the same users opening the same forms at the same moments wherever the
configurations do not change that, so their difference measures the configuration and
not the luck of the draw (the variance of a paired difference is smaller than that of
two independent runs).

**Confidence intervals** use Student's t distribution with ``n - 1`` degrees of freedom:
``mean +- t(0.975, n-1) * s / sqrt(n)``. With **adaptive** replication, configurations
whose interval for the chosen metric is wider than ``relative_half_width`` times the
mean get more replications (in rounds, up to ``max_replications``); since the decisions
depend only on results, a resumed sweep makes the same decisions.

**Objectives and the Pareto front.** With ``objectives`` (metric -> min or max), a
configuration is on the Pareto front when no other configuration is at least as good on
every objective and strictly better on one (comparing means): the set of defensible
trade-offs, for example fewer overwritten writes against more blocked user time.

**Results** go to a SQLite store keyed by (configuration hash, seed), committed after
every run (:mod:`sim.study.store`), so a killed sweep resumes with ``--resume`` without losing
or repeating a finished run. ``reports/sweeps/<name>/`` receives ``results.sqlite``,
``summary.csv``, ``summary.json`` and ``runs.csv``; the summary table is printed.
Runs are executed by :mod:`sim.study.executors` (local processes, or a Dask cluster with
``--scheduler``).

The package, in the order a sweep happens: :mod:`~sim.study.sweep.spec` (the file),
:mod:`~sim.study.sweep.sampling` (seeds and sample points), :mod:`~sim.study.sweep.plan`
(every configuration, validated), :mod:`~sim.study.sweep.run` (executing, adaptive
replication, summaries), :mod:`~sim.study.sweep.result` (the summaries and the result, as
types) and :mod:`~sim.study.sweep.output` (summary.csv, summary.json, runs.csv). A
configuration is built by :mod:`sim.study.configure`; the statistics are
:mod:`sim.study.stats`; the printed table is :mod:`sim.reporting.sweep`; ``p2c sweep`` is
:mod:`sim.cli.sweep`. The package imports none of its modules, so importing one of them
loads only what it needs.

May import: ``models``, ``sim.scenario``, ``sim.engine``, ``sim.checker`` and the rest
of ``sim.study``.
"""

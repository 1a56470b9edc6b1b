"""The testbed's words for loss, defined once (README "Words for loss", ``p2c run --help``).

No imports: the command line reads it before anything heavy is loaded.
"""

#: The words for loss, defined once: printed by ``p2c run --help`` and quoted in the
#: README (a test keeps them equal). Every count names its unit: writes (saves) or
#: write fields (one field one save set).
LOSS_GLOSSARY = """\
Words for loss (each metric names its unit):
  save, write        one user's form save (a write id such as W-operations-165); it sets
                     one or more fields of one record.
  overwritten write  a save one of whose field versions a replica replaced by a version
                     whose ancestry does not include it (the model's overwrite event),
                     e.g. a batch run upserting an older row. It may survive elsewhere.
                     Metrics: overwritten_writes (writes), overwritten_write_fields
                     (write fields).
  lost write field   the checker's verdict at the end of the run: a field a save set
                     whose version is, in no replica, the final version or an ancestor
                     of it, and that nobody was shown (no rejection, no conflict). It
                     also counts an edit that a later edit built on before both were
                     overwritten, which overwritten_writes leaves out (only the later
                     edit was replaced directly). Metric: lost_write_fields;
                     no_lost_update counts these.
  lost write         a save with at least one lost write field. Metric: lost_writes.
  surfaced           shown to a person (a rejection or a conflict record): not lost.
  conflict           concurrent versions the design detected and recorded. Metric:
                     conflicts (conflict records).
  sanctioned         losses the design accepts by construction (last writer wins):
                     counted and explained, not a failure.
"""

#: Metric names retired for the glossary's (README, "Words for loss"): old -> new.
RENAMED_METRICS = {
    "overwritten_edits": "overwritten_writes",
    "overwrites": "overwritten_write_fields",
}

"""The stage layer: one module per stage of a domain run, each ``run(ctx, upstream…) -> StageResult``.

    extract   landing/{d}/{snapshot}/  -> raw/{d}/{run}/        (+ quarantine/{d}/{run}/)
    cleanse   raw                      -> cleansed/{d}/{run}/   (+ ledger, 名寄せ review queue)
    validate  cleansed                 -> validated/{d}/{run}/  (standard layout)
    gate      any stage's output       -> its verdict added to the StageResult (GX checkpoints)
    load      validated                -> handoff/{d}/{run}/ + target database
    rehearse  everything               -> reports/{d}/{run}/    (reconciliation, timing, verdict)
    master    the plan of a master run; city: the city-wide report

Each stage reads its input through the previous stage's published manifest
(:mod:`ikou.storage.publication`), writes its output under a run-scoped prefix of its zone,
publishes it (manifest last) and returns a :class:`~ikou.pipeline.StageResult`: URIs, counts,
seconds, findings by rule — never records. Every stage accounts for every record:
in = out + quarantined + merged (+ header and trailer records at extract). Reports
(``reports/{d}/{run}/``) hold counts, keyed hashes and verdicts only.

The stages never import Airflow: :mod:`ikou.airflow` builds the :class:`~ikou.pipeline.RunContext`
from a DAG run, resolves the connections and calls them; the command line and the tests call
them the same way.
"""

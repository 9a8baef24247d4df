"""Stage 4, trace: the standalone module.

In:  `MergedModule` (merge/merge.py).
Out: a `ParsedModule` of the standalone module (trace.py): the modular file's statements plus
     every base definition they need, transitively, renamed, in dependency order.

definition_time.py refuses what depends on the order of definitions (E210, E211); order.py gives a
transformers tree upstream's order of definitions.
"""

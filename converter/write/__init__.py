"""Stage 5, write: output texts, formatted, and the files on disk.

In:  the standalone module, gathered (`GatheredModule`, read/gather.py).
Out: `SplitModule` (split.py: one `OutputPlan` per file kind), `ImportPlan` (imports.py: each
     file's imports), `EmittedModel` (emit.py: header and text of each file), formatted by ruff
     (format.py, always last). write.py compares and writes them atomically with journal.py; it
     runs after the passes, never inside one.
"""

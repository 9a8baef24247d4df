"""Stage 1, read: the only stage that opens files.

In:  a modular file's path (and the run's `Layout`: this repository or a transformers tree).
Out: `ParsedModule` (parse.py: the libcst tree, positions, the model's name), `Bases` (bases.py:
     the generated packages it inherits from, parsed once per run) and `ResolvedModule`
     (resolve.py: its imports from base models, checked against them).

source.py reads bounded UTF-8 bytes, nesting.py runs CPython's parser and bounds nesting before
libcst sees the text, locate.py decides which files may feed `generated/`. gather.py is the
read-only analysis of a parsed module that later stages share (what each top-level statement
defines and uses); the write stage gathers the standalone module again before splitting it.
"""

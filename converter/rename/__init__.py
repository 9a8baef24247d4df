"""Stage 2, rename: Llama -> Gemma in everything inherited from a base model.

In:  `ResolvedModule` (read/resolve.py).
Out: `RenamedModule` (rename.py): the modular module with, per base model, a `BaseNamespace`
     (namespace.py: every top-level statement of the base, what it defines and uses, renamed on
     first use by a `RenameModel` from renamer.py).

The rule works on the syntax tree, token by token (names, attributes, strings, comments), never on
printed text; prefixes.py gives a transformers tree's per-file prefixes as upstream's converter does.
"""

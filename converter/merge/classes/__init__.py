"""The bases of merged classes: read (never executed) from the base models and the library modules
they import, and checked to keep each class's method resolution order (E215).

In:  a merged class's bases as written, and the `RenamedModule` they come from.
Out: `exact_bases` / `flattened_bases`: the bases the generated class gets, or E215.
"""

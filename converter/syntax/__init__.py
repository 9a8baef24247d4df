"""Shared leaf: what a libcst tree says, read without running it. Every stage may import it; it
imports no stage.

In:  libcst nodes.
Out: fields.py: which fields of a node hold nodes and the order a visitor visits them (from public
     visits only); scopes.py and walk.py: the scopes of a module, what each binds and reads and what
     each read resolves to, by libcst's rules (`module_scopes`); names.py: the names a piece of code
     mentions, binds and reads from module level, and a hygienic Name -> Name substitution.
"""

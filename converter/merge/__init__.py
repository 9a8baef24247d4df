"""Stage 3, merge: each modular class that subclasses a base-model class becomes a full class.

In:  `RenamedModule` (rename/rename.py).
Out: `MergedModule` (merge.py): the modular file's statements with merged classes in place, and
     what each merged member was copied from.

members.py decides how the modular class's members change the base body (replace, remove, add);
unroll.py inlines `super().method(...)` (binding.py binds its arguments, init_merge.py merges what
follows `super().__init__()`, signature.py expands `**super_kwargs`, decorators.py judges decorated
bases; override.py holds the values they share). classes/ decides the bases a merged class gets
and checks they keep its method resolution order (ancestry.py reads bases from source, mro.py
checks the order). A super() call that cannot be unrolled exactly is an error here, never a guess.
"""

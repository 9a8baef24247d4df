"""Upstream's modular rules, as the transformers dialect applies them (converter/dialect/__init__.py).

Each rule has a code (the drift warning's), a short name (the bench counts per name), what upstream
does, and `fix`: how to write the modular code so that it means, as Python, what upstream generates
(then the rule no longer drifts there). Codes are grouped by the part of the merge that applies them:

    W301-W319  method bodies: super() calls, `__init__` merging (converter/merge/upstream_super.py, with
               the drift judged against the exact unroll in converter/merge/super_drift.py)
    W320-W329  classes: members, decorators, parent calls, signatures (converter/merge/upstream_calls.py,
               upstream_classes.py, upstream_members.py, upstream_signature.py)
    W330-W339  modules: what is kept, imports (converter/trace/prune.py, redefined.py,
               converter/write/upstream_imports.py)
    W340-W349  definitions, bases and names (converter/trace/shadowed.py, converter/merge/upstream_bases.py,
               converter/read/resolve.py)

Rules that only move comments, blank lines or definitions (which never changes what the code does)
have no code: they are applied without a warning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    what: str  # what upstream does, one sentence
    fix: str  # how the modular code can say it in Python


def rules(*entries: Rule) -> dict[str, Rule]:
    return {rule.code: rule for rule in entries}


RULES: dict[str, Rule] = rules(
    # -- method bodies (W301-W319) --------------------------------------------------------------
    Rule(
        "W301",
        "super-unbound",
        "super().method(...) is replaced by the parent's body without binding the call's arguments: each parent "
        "parameter reads the override's variable of that name",
        "pass every parent parameter the override's variable of the same name (or write the body out)",
    ),
    Rule(
        "W302",
        "super-value",
        "the value of an unrolled super() call is handled as upstream does (a discarded call's `return` is kept, "
        "an early return ends the override)",
        "use the call's value as the parent's body does: `return super().method(...)`",
    ),
    Rule(
        "W303",
        "super-decorators",
        "the body of a decorated parent method is copied without the parent's decorators",
        "give the override the parent's decorators, or call the parent method instead of super()",
    ),
    Rule(
        "W304",
        "super-kept-call",
        "a super() call upstream does not unroll stays a call, which in the generated class reaches the parent's "
        "own base instead of the parent",
        "make the call a statement of its own (`x = super().method(...)`) or write the body out",
    ),
    Rule(
        "W305",
        "super-locals",
        "the copied parent body shares the override's local variables (a name set by one is read by the other)",
        "rename the override's variable that the parent body also uses",
    ),
    Rule(
        "W306",
        "super-dedup",
        "a statement after super().method(...) whose code (comments aside) equals a statement of the copied parent "
        "body is dropped, so it runs once",
        "leave out the statement the parent body already runs",
    ),
    Rule(
        "W310",
        "del-line",
        "`del self.x` (or `del x`) after super().__init__() removes the parent's assignment line(s) instead of "
        "deleting the attribute; a `del` that matches no line, or stands before the super() call, is dropped",
        "leave the attribute out by overriding the method that creates it, or set it to None",
    ),
    Rule(
        "W311",
        "post-init-last",
        "self.post_init() is moved to the end of __init__, after statements the modular code runs after it",
        "call self.post_init() last in the override",
    ),
    Rule(
        "W312",
        "assignment-in-place",
        "an assignment after super().__init__() to a target the parent assigns replaces the parent's line in place, "
        "before parent statements that the modular code runs first",
        "override the hook that computes the value, or assign it before the statements that read it",
    ),
    Rule(
        "W313",
        "super-init-first",
        "statements before super().__init__() are moved after the parent's own super().__init__() call",
        "move those statements after super().__init__()",
    ),
    Rule(
        "W314",
        "removed-field-read",
        "a config field removed with `x = AttributeError()` is still read by the parent code upstream copies",
        "override the parent code that reads the field",
    ),
    # -- classes (W320-W329) ------------------------------------------------------------------
    Rule(
        "W320",
        "selfless-parent-call",
        "`Parent.method(args)` (a base of the merged class) is written `super().method(args)`, a first `self` "
        "dropped, before the method's super() call: passing no instance, or reaching another method than Python",
        "call super().method(args)",
    ),
    Rule(
        "W321",
        "decorators-inherited",
        "an override without decorators takes the parent method's decorators",
        "repeat the parent's decorators on the override, or mark it @no_inherit_decorators... and keep none",
    ),
    Rule(
        "W322",
        "staticmethod-inherited",
        "an override of a staticmethod/classmethod written without the decorator takes the parent's",
        "decorate the override as the parent is",
    ),
    Rule(
        "W323",
        "member-removed",
        "`x = AttributeError()`, or an overriding method whose first line raises any error (NotImplementedError "
        "too), removes the member from the class, although a parent class still defines it or Python would raise",
        "override the member with what the class should do",
    ),
    Rule(
        "W324",
        "module-base-dropped",
        "an extra `nn.Module` base is dropped and `nn.Module.__init__(self)` becomes `super().__init__()`",
        "call super().__init__() as the generated code does",
    ),
    Rule(
        "W325",
        "super-kwargs",
        "`**super_kwargs` expands the parent's signature where Python could not bind it that way",
        "write the full signature",
    ),
    Rule(
        "W326",
        "one-of-two-definitions",
        "two different definitions needed under one name: one is kept, so code from the other calls the wrong one",
        "give one of the definitions another name in the modular file",
    ),
    Rule(
        "W327",
        "field-annotation-dropped",
        "`x = value` over a base field `x: T = ...` replaces the field's line as written: the generated class "
        "declares a plain class attribute, no field",
        "repeat the annotation: `x: T = value`",
    ),
    # -- modules (W330-W339) ------------------------------------------------------------------
    Rule(
        "W330",
        "unused-dropped",
        "top-level code of the modular file that the generated files do not use is dropped, effects and all",
        "remove the unused statement from the modular file",
    ),
    Rule(
        "W331",
        "future-import-dropped",
        "`from __future__ import ...` is pruned like an unused import, so annotations are evaluated when each "
        "definition runs",
        "remove the __future__ import and write annotations that can be evaluated where they stand",
    ),
    Rule(
        "W332",
        "torch-import-guarded",
        "the torch and torchvision imports of a PIL image processor file are moved under "
        "`if is_torch_available():` / `if is_torchvision_available():`",
        "import torch under `if is_torch_available():` in the modular file",
    ),
    Rule(
        "W333",
        "last-definition-kept",
        "a class or function defined twice is written once: the last definition, in the place of the first",
        "give one of the two definitions another name",
    ),
    Rule(
        "W334",
        "base-assignment-kept",
        "a modular assignment to a name the base file assigns too is ignored (but for _CHECKPOINT_FOR_DOC-like "
        "names): the generated file keeps the base's value",
        "give the modular value another name, or override what reads the name",
    ),
    # -- definitions and names (W340-W349) ------------------------------------------------------
    Rule(
        "W340",
        "base-definition-over-import",
        "a name that a class built on a base class uses, and that the modular file imports from the library while "
        "the base class's file defines it, is the base file's definition (pulled in, the import dropped)",
        "import the name from the base model's file, or define it in the modular file",
    ),
    Rule(
        "W341",
        "bases-switched",
        "a merged class is written with its base class's bases only, each switched for the modular base it shares "
        "a partial name suffix with; other modular bases are dropped",
        "write the class's bases as the base class has them, with the switched names",
    ),
    Rule(
        "W342",
        "import-from-other-file",
        "a name imported from a base model's file that does not define it is found in the file of that model that "
        "does",
        "import the name from the file that defines it",
    ),
)

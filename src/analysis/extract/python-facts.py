"""Static facts from Python source for codemode's analysis (src/analysis).

A resident helper: one JSON request per line on stdin ({"id", "code"}), one
JSON reply per line on stdout ({"id", "facts", "syntaxError"?, "unanalysed"?}).
It only parses (ast.parse never executes code); recursion and memory are bounded
and any failure is reported as "unanalysed", never raised. An optional first
line {"triggers": ...} (python-triggers.ts) enables the bytecode fast path; a
request with "want": "dataflow" returns defs and uses instead (defs_uses).
"""
import ast
import json
import re
import sys

EXIT_CALLS = {"sys.exit", "exit", "quit", "os._exit", "os.abort", "input"}
NO_DESCEND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
LOOPS = (ast.For, ast.AsyncFor, ast.While)
IMPORTERS = {"__import__", "importlib.import_module"}
TLA = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
FLAGS = ast.PyCF_ONLY_AST | TLA
WHILE = re.compile(r"\bwhile\b")


class Facts:
    def __init__(self):
        self.aliases = {}
        self.facts = []

    def pos(self, node):
        return node.lineno, node.col_offset + 1

    def dotted(self, node):
        """The resolved dotted name of a Name/Attribute chain, or None."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            root = self.aliases.get(node.id, node.id)
        elif isinstance(node, ast.Call):
            root = self.imported(node)
            if root is None:
                return None
        else:
            return None
        parts.append(root)
        return ".".join(reversed(parts))

    def rooted(self, node):
        """True when a Name/Attribute chain starts at an imported name (or codemode)."""
        while isinstance(node, ast.Attribute):
            node = node.value
        if isinstance(node, ast.Call):
            return self.imported(node) is not None
        return isinstance(node, ast.Name) and (node.id in self.aliases or node.id == "codemode")

    def imported(self, call):
        """`__import__('os')` / `importlib.import_module('os')`: the module, else None."""
        f = call.func
        name = f.id if isinstance(f, ast.Name) else None
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            name = self.aliases.get(f.value.id, f.value.id) + "." + f.attr
        if name in IMPORTERS and call.args:
            a = call.args[0]
            if isinstance(a, ast.Constant) and isinstance(a.value, str):
                return a.value
        return None

    def arg(self, node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {"str": node.value}
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            return {"strs": items} if len(items) == len(node.elts) else {}
        if isinstance(node, ast.Call):
            d = self.dotted(node.func)
            out = {"expr": d + "()"} if d else {}
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                out["str"] = node.args[0].value
            return out
        d = self.dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
        return {"expr": d} if d else {}

    def add(self, kind, node, **data):
        line, column = self.pos(node)
        data.update(kind=kind, line=line, column=column)
        self.facts.append(data)

    def has_exit(self, body):
        stack = [(n, False) for n in body]
        while stack:
            n, nested = stack.pop()
            if isinstance(n, ast.Break):
                if not nested:
                    return True
                continue
            if isinstance(n, (ast.Return, ast.Raise, ast.Yield, ast.YieldFrom)):
                return True
            if isinstance(n, ast.Call) and self.dotted(n.func) in EXIT_CALLS:
                return True
            if isinstance(n, NO_DESCEND):
                continue
            inner = nested or isinstance(n, LOOPS)
            stack.extend((c, inner) for c in ast.iter_child_nodes(n))
        return False

    def visit(self, tree):
        for node in ast.walk(tree):
            t = type(node)
            if t is ast.Import:
                for a in node.names:
                    self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                    self.add("import", node, module=a.name)
            elif t is ast.ImportFrom:
                if node.level or not node.module:
                    continue
                self.add("import", node, module=node.module)
                for a in node.names:
                    full = node.module + "." + a.name
                    self.aliases[a.asname or a.name] = full
                    if a.name != "*":
                        self.add("import", node, module=full)
            elif t is ast.Assign:
                if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    v = node.value
                    if isinstance(v, ast.Call) and self.imported(v) is not None:
                        self.aliases[node.targets[0].id] = self.imported(v)
                    elif isinstance(v, (ast.Name, ast.Attribute)) and self.rooted(v):
                        d = self.dotted(v)
                        if d:
                            self.aliases[node.targets[0].id] = d
            elif t is ast.Call:
                mod = self.imported(node)
                if mod is not None:
                    self.add("import", node, module=mod)
                f = node.func
                if isinstance(f, ast.Name) or (isinstance(f, ast.Attribute) and self.rooted(f)):
                    d = self.dotted(f)
                    if d:
                        self.add("call", node, callee=d, args=[self.arg(a) for a in node.args[:3]])
            elif t is ast.Attribute:
                if isinstance(node.ctx, ast.Load) and self.rooted(node):
                    d = self.dotted(node)
                    if d:
                        self.add("access", node, name=d)
            elif t is ast.Name:
                # `from os import environ; environ[...]`: a name bound to a module attribute.
                if isinstance(node.ctx, ast.Load) and "." in self.aliases.get(node.id, ""):
                    self.add("access", node, name=self.aliases[node.id])
            elif t is ast.While:
                test = node.test
                if isinstance(test, ast.Constant) and test.value and not self.has_exit(node.body):
                    self.add("endless-loop", node)
        return self.facts


def quick(code, triggers):
    """The fast path: True when no rule can match (so no facts), from the bytecode alone.

    A bytecode compile is several times cheaper than building the AST. Every
    name a fact could be built from is in the code objects (co_names splits
    dotted imports; locals too), and string literals are constants. Errors and
    anything the triggers name take the full path.
    """
    if triggers is None:
        return False
    try:
        top = compile(code, "<cell>", "exec", TLA)
    except (SyntaxError, ValueError):
        return False
    if triggers["loops"] and WHILE.search(code):
        return False
    names = set()
    strs = []
    stack = [top]
    while stack:
        c = stack.pop()
        for n in c.co_names:
            names.update(n.split("."))
        names.update(c.co_varnames)
        names.update(c.co_cellvars)
        names.update(c.co_freevars)
        consts = list(c.co_consts)
        while consts:
            k = consts.pop()
            if isinstance(k, str):
                strs.append(k)
            elif isinstance(k, (tuple, frozenset)):
                consts.extend(k)
            elif hasattr(k, "co_code"):
                stack.append(k)
    if names.intersection(triggers["always"]):
        return False
    for alt in triggers["alternatives"]:
        ok = True
        for req in alt:
            if req.startswith("str:"):
                ok = any(req[4:] in x for x in strs)
            elif req.endswith("*"):
                ok = any(n.startswith(req[:-1]) for n in names)
            else:
                ok = req in names
            if not ok:
                break
        if ok:
            return False
    return True


def analyse(code):
    try:
        tree = compile(code, "<cell>", "exec", FLAGS)
    except SyntaxError as e:
        return {"facts": [], "syntaxError": {"message": e.msg, "line": e.lineno or 1, "column": e.offset or 1}}
    except ValueError as e:  # e.g. a NUL byte in the source
        return {"facts": [], "syntaxError": {"message": str(e), "line": 1, "column": 1}}
    return {"facts": Facts().visit(tree)}


BUILTINS = set(dir(__builtins__)) if not isinstance(__builtins__, dict) else set(__builtins__)
DYNAMIC = {"exec": "exec", "eval": "eval", "globals": "globals()", "locals": "locals()", "vars": "vars()"}
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class Dataflow:
    """Top-level names a cell defines and reads. Reads are names loaded before the
    cell binds them (or, in function bodies, not bound anywhere in the cell);
    builtins are not reads. What static reading cannot know is `unknown`."""

    def __init__(self, tree):
        self.defs = set()
        self.uses = set()
        self.unknown = []
        self.bound = set()  # bound so far, in statement order
        self.cell_binds = set()  # bound anywhere at top level
        for node in tree.body:
            self.cell_binds.update(self.binds(node))

    def note(self, reason, node, name=None):
        item = {"reason": reason, "line": getattr(node, "lineno", 1)}
        if name:
            item["name"] = name
        self.unknown.append(item)

    def binds(self, stmt):
        """Names a top-level statement binds (not descending into scopes)."""
        out = set()
        stack = [stmt]
        while stack:
            n = stack.pop()
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(n.name)
                continue
            if isinstance(n, (ast.Lambda,) + COMPS):
                continue
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                out.add(n.id)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                for a in n.names:
                    if a.name != "*":
                        out.add(a.asname or a.name.split(".")[0])
            elif isinstance(n, ast.ExceptHandler) and n.name:
                out.add(n.name)
            elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
                out.add(n.name)
            elif isinstance(n, ast.MatchMapping) and n.rest:
                out.add(n.rest)
            stack.extend(ast.iter_child_nodes(n))
        return out

    def read(self, name, node):
        if name not in self.bound and name not in BUILTINS:
            self.uses.add(name)

    def run(self, tree):
        for stmt in tree.body:
            self.statement(stmt)
            self.defs.update(self.binds(stmt))
        return self

    def statement(self, stmt):
        """Reads of a top-level statement in evaluation order; names bind as they are assigned."""
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for d in stmt.decorator_list:
                self.expr(d)
            if isinstance(stmt, ast.ClassDef):
                for b in stmt.bases + [k.value for k in stmt.keywords]:
                    self.expr(b)
            else:
                for d in stmt.args.defaults + [d for d in stmt.args.kw_defaults if d is not None]:
                    self.expr(d)
            self.scope(stmt, set())
            self.bound.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
                self.note("star import", stmt, stmt.module)
            self.bound.update(self.binds(stmt))
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            if stmt.value is not None:
                self.expr(stmt.value)
            for t in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                if isinstance(stmt, ast.AugAssign) and isinstance(t, ast.Name):
                    self.read(t.id, t)
                self.target(t)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self.expr(stmt.iter)
            self.target(stmt.target)
            self.block(stmt.body + stmt.orelse)
        elif isinstance(stmt, (ast.While, ast.If)):
            self.expr(stmt.test)
            self.block(stmt.body + stmt.orelse)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.target(item.optional_vars)
            self.block(stmt.body)
        elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            self.block(stmt.body)
            for h in stmt.handlers:
                if h.type is not None:
                    self.expr(h.type)
                if h.name:
                    self.bound.add(h.name)
                self.block(h.body)
            self.block(stmt.orelse + stmt.finalbody)
        elif isinstance(stmt, ast.Match):
            self.expr(stmt.subject)
            for case in stmt.cases:
                self.bound.update(self.binds(case.pattern))
                if case.guard is not None:
                    self.expr(case.guard)
                self.block(case.body)
        elif isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                self.target(t)
        elif not isinstance(stmt, (ast.Global, ast.Nonlocal)):
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def block(self, stmts):
        for s in stmts:
            self.statement(s)

    def target(self, t):
        """An assignment target: names bind; attribute/subscript stores mutate their root (a read too)."""
        if isinstance(t, ast.Name):
            self.bound.add(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self.target(e)
        elif isinstance(t, ast.Starred):
            self.target(t.value)
        elif isinstance(t, (ast.Attribute, ast.Subscript)):
            root = t.value
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if isinstance(t, ast.Subscript):
                self.expr(t.slice)
            if isinstance(root, ast.Name):
                self.read(root.id, root)
                self.note("mutation", t, root.id)
            elif isinstance(root, ast.Call) and isinstance(root.func, ast.Name) and root.func.id in DYNAMIC:
                self.expr(root)
            else:
                self.expr(root)

    def expr(self, e):
        """Reads in an expression at top level; nested scopes read what they do not bind."""
        stack = [e]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.Name):
                if isinstance(n.ctx, ast.Load):
                    self.read(n.id, n)
                continue
            if isinstance(n, ast.NamedExpr):
                self.expr(n.value)
                self.bound.add(n.target.id)
                continue
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in DYNAMIC:
                self.note(DYNAMIC[n.func.id], n)
            if isinstance(n, ast.Lambda):
                for d in n.args.defaults:
                    stack.append(d)
                self.scope(n, set())
                continue
            if isinstance(n, COMPS):
                self.comprehension(n, set())
                continue
            stack.extend(reversed(list(ast.iter_child_nodes(n))))

    def comprehension(self, n, outer_locals):
        local = set(outer_locals)
        for g in n.generators:
            for t in ast.walk(g.target):
                if isinstance(t, ast.Name):
                    local.add(t.id)
        # The first iterable is evaluated in the enclosing scope.
        self.free_reads(n, local, skip_first_iter=not outer_locals)
        if not outer_locals:
            self.expr(n.generators[0].iter)

    def scope(self, node, outer_locals):
        """A function, lambda or class body: reads of names it does not bind, resolved at call time."""
        local = set(outer_locals)
        if isinstance(node, FUNCS):
            a = node.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]:
                local.add(arg.arg)
        body = node.body if isinstance(node.body, list) else [node.body]
        declared_global = set()
        for stmt in body:
            for n in ast.walk(stmt):
                if isinstance(n, ast.Global):
                    declared_global.update(n.names)
        for stmt in body:
            for name in self.binds(stmt):
                if name in declared_global:
                    self.defs.add(name)
                else:
                    local.add(name)
        for stmt in body:
            self.free_reads(stmt, local)

    def free_reads(self, node, local, skip_first_iter=False):
        stack = list(ast.iter_child_nodes(node)) if isinstance(node, COMPS) else [node]
        first_iter = node.generators[0].iter if isinstance(node, COMPS) and skip_first_iter else None
        while stack:
            n = stack.pop()
            if n is first_iter:
                continue
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                if n.id not in local and n.id not in self.cell_binds and n.id not in BUILTINS:
                    self.uses.add(n.id)
                continue
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in DYNAMIC:
                self.note(DYNAMIC[n.func.id], n)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                if not isinstance(n, ast.Lambda):
                    stack.extend(n.decorator_list)
                self.scope(n, local)
                continue
            if isinstance(n, COMPS):
                self.comprehension(n, local | {None})
                continue
            stack.extend(ast.iter_child_nodes(n))


def defs_uses(code):
    try:
        tree = compile(code, "<cell>", "exec", FLAGS)
    except (SyntaxError, ValueError) as e:
        return {"defs": [], "uses": [], "unknown": [{"reason": "syntax error: " + str(e), "line": 1}]}
    d = Dataflow(tree).run(tree)
    return {"defs": sorted(d.defs), "uses": sorted(d.uses), "unknown": d.unknown}


def main():
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    except (ImportError, ValueError, OSError):
        pass  # best effort: the host also bounds input size and time
    sys.setrecursionlimit(2000)
    triggers = None
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        if "triggers" in req:
            triggers = req["triggers"]
            continue
        try:
            code = req.get("code", "")
            if req.get("want") == "dataflow":
                out = defs_uses(code)
            elif quick(code, triggers):
                out = {"facts": []}
            else:
                out = analyse(code)
        except (RecursionError, MemoryError) as e:
            out = {"facts": [], "unanalysed": "too deeply nested to analyse (" + type(e).__name__ + ")"}
        except Exception as e:  # noqa: BLE001 - a bug here must not stop the helper
            out = {"facts": [], "unanalysed": type(e).__name__ + ": " + str(e)}
        out["id"] = req.get("id")
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

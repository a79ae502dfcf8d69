"""Static facts from Python source for codemode's analysis (src/analysis).

A resident helper: one JSON request per line on stdin ({"id", "code"}), one
JSON reply per line on stdout ({"id", "facts", "syntaxError"?, "unanalysed"?}).
It only parses (ast.parse never executes code); recursion and memory are bounded
and any failure is reported as "unanalysed", never raised.
"""
import ast
import json
import sys

EXIT_CALLS = {"sys.exit", "exit", "quit", "os._exit", "os.abort", "input"}
NO_DESCEND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
LOOPS = (ast.For, ast.AsyncFor, ast.While)
IMPORTERS = {"__import__", "importlib.import_module"}
FLAGS = ast.PyCF_ONLY_AST | getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)


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


def analyse(code):
    try:
        tree = compile(code, "<cell>", "exec", FLAGS)
    except SyntaxError as e:
        return {"facts": [], "syntaxError": {"message": e.msg, "line": e.lineno or 1, "column": e.offset or 1}}
    except ValueError as e:  # e.g. a NUL byte in the source
        return {"facts": [], "syntaxError": {"message": str(e), "line": 1, "column": 1}}
    return {"facts": Facts().visit(tree)}


def main():
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    except (ImportError, ValueError, OSError):
        pass  # best effort: the host also bounds input size and time
    sys.setrecursionlimit(2000)
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        try:
            out = analyse(req.get("code", ""))
        except (RecursionError, MemoryError) as e:
            out = {"facts": [], "unanalysed": "too deeply nested to analyse (" + type(e).__name__ + ")"}
        except Exception as e:  # noqa: BLE001 - a bug here must not stop the helper
            out = {"facts": [], "unanalysed": type(e).__name__ + ": " + str(e)}
        out["id"] = req.get("id")
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

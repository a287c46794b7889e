"""Code a model shows in its answer instead of making the change: turned into an edit.

Small local models often answer "change calc.py like this:" and a fenced block, rather than
calling ``edit_file`` (aider builds its whole edit format on that habit). :func:`shown_edits`
finds such blocks, works out which project file each one is for, and builds that file's whole
new text, which the loop then proposes as an ordinary ``edit_file`` call: it passes the policy,
the "changed since read" check and, where the mode asks, the user, like any edit.

A block is taken only when it is clear:

* its file is named: a comment line (``# calc.py``; several split one block among files), or
  the last existing project path named in the prose just before the block, or (Python) the one
  file read in this run that defines the functions the block defines;
* the new text is sure: Python blocks replace the top-level functions and classes they define
  (methods one by one when a class is shown in part), add the functions and imports that are
  new, and keep everything else; another language's block must be the whole file (it holds the
  file's first and last lines); the result must differ from the file (and parse, for Python);
  a sketch (a ``...`` body, "# rest of the code") where the file has code is not taken;
* the file is not a test: tests are how the change is checked, so they change only through
  ``edit_file``.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["ShownEdit", "changes_code", "is_test_path", "shown_edits"]

_BLOCK = re.compile(r"```[ \t]*([\w.+#-]*)[^\n]*\n(.*?)```", re.S)
_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]{1,8})(?![\w/-])")
_HEADER = re.compile(
    r"^\s*(?:#|//|--|/\*|<!--)\s*(?:file(?:name)?\s*:?\s*)?((?:[\w.-]+/)*[\w.-]+\.\w+)"
    r"\s*(?:\*/|-->)?\s*$",
    re.I,
)
_TEST_PATH = re.compile(
    r"(?:^|/)(?:tests?/|test_[^/]*$|[^/]*_test\.\w+$|[^/]*\.(?:test|spec)\.\w+$|conftest\.py$)"
)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# "the rest stays as it is" written into the code: the block is not the code to put there
_ELIDED = re.compile(
    r"^\s*(?:#|//)\s*(?:\.\.\.|…|(?:the )?rest of|existing code|unchanged|same as (?:before|above)"
    r"|other (?:methods|functions)|\(?(?:code|implementation) (?:omitted|unchanged))",
    re.I | re.M,
)

Read = Callable[[str], "str | None"]


@dataclass(frozen=True)
class ShownEdit:
    path: str  # relative to the project root
    content: str  # the file's whole new text


def is_test_path(path: str) -> bool:
    return bool(_TEST_PATH.search(path.replace("\\", "/").lstrip("./")))


def shown_edits(text: str, read: Read, seen: Sequence[str] = ()) -> list[ShownEdit]:
    """The edits the fenced blocks of ``text`` make, one per file (the last block wins).

    ``read(path)`` gives a project file's current text or None (missing, outside, unreadable);
    ``seen`` are the files read in this run, for blocks that name no file."""
    out: dict[str, str] = {}
    current: dict[str, str] = {}
    start = 0
    for match in _BLOCK.finditer(text):
        lang, body = match.group(1).lower(), match.group(2)
        before, start = text[start : match.start()], match.end()
        if lang in ("json", "bash", "sh", "shell", "console", "text", "diff"):
            continue
        for number, (header, part) in enumerate(_sections(body)):
            if header is not None:  # "# slug.py" on its own line starts that file's code
                path = header if read(header) is not None else None
            elif number == 0:
                path = _which_file(before, part, read, seen)
            else:
                path = None
            if path is None or is_test_path(path) or not part.strip():
                continue
            old = current.get(path)
            if old is None:
                old = read(path)
                if old is None:
                    continue
                current[path] = old
            new = _merged(path, out.get(path, old), part)
            if new is not None and new != old:
                out[path] = new
    return [ShownEdit(path, content) for path, content in out.items()]


def changes_code(path: str, old: str | None, new: str) -> bool:
    """Whether ``new`` differs from ``old`` in more than comments and spacing (Python: the
    syntax trees differ; other files: the words differ). A "fix" that only adds a comment to
    the failing code is the failing code again."""
    if old is None:
        return True
    if path.endswith((".py", ".pyi")):
        before, after = _parse(old), _parse(new)
        if before is not None and after is not None:
            return ast.dump(before) != ast.dump(after)
    return old.split() != new.split()


def _sections(body: str) -> list[tuple[str | None, str]]:
    """A block split at its file-name comment lines: (the file named or None, its code)."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in body.splitlines():
        header = _HEADER.match(line)
        if header:
            sections.append((header.group(1).removeprefix("./"), []))
        else:
            sections[-1][1].append(line)
    return [(name, "\n".join(lines)) for name, lines in sections if name or any(lines)]


def _which_file(before: str, body: str, read: Read, seen: Sequence[str]) -> str | None:
    near = before.strip().splitlines()[-3:]  # the lines just before the block
    for name in reversed(_PATH.findall("\n".join(near))):
        name = name.removeprefix("./")
        if read(name) is not None:
            return name
    defined = _python_names(body)
    if defined:
        owners = [p for p in dict.fromkeys(seen) if _owns(p, defined, read)]
        if len(owners) == 1:
            return owners[0]
    return None


def _owns(path: str, names: set[str], read: Read) -> bool:
    if not path.endswith(".py") or is_test_path(path):
        return False
    text = read(path)
    return text is not None and bool(_python_names(text) & names)


def _python_names(source: str) -> set[str]:
    tree = _parse(source)
    return {n.name for n in tree.body if isinstance(n, _DEFS)} if tree else set()


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _merged(path: str, old: str, block: str) -> str | None:
    if path.endswith((".py", ".pyi")):
        module = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return _merge_python(old, block, module)
    return _whole_file(old, block)


def _whole_file(old: str, block: str) -> str | None:
    """A non-Python block replaces the file only when it is the whole file."""
    lines = [line.strip() for line in old.splitlines() if line.strip()]
    new = [line.strip() for line in block.splitlines() if line.strip()]
    if not lines or not new or lines[0] != new[0] or lines[-1] != new[-1]:
        return None
    return block if block.endswith("\n") else block + "\n"


def _merge_python(old: str, block: str, module: str = "") -> str | None:
    block = textwrap.dedent(block)
    new_tree, old_tree = _parse(block), _parse(old)
    if new_tree is None or old_tree is None:
        return None
    if _ELIDED.search(block) and not _ELIDED.search(old):
        return None  # "# ... rest of the code": a sketch, not the code
    new_lines, old_lines = block.splitlines(), old.splitlines()
    new_defs = [n for n in new_tree.body if isinstance(n, _DEFS)]
    if not new_defs:
        return None  # statements only: not sure what they replace
    old_defs = {n.name: n for n in old_tree.body if isinstance(n, _DEFS)}
    spans: list[tuple[int, int, list[str]]] = []  # (first, last) 1-based lines in old → new
    added: list[list[str]] = []
    for node in new_defs:
        target = old_defs.get(node.name)
        if _elides(node) and (target is None or not _elides(target)):
            return None  # a body of `...` where the file has code
        if target is None:
            if not node.name.startswith(("test_", "Test")):  # a test shown is not a fix
                added.append(_source(new_lines, node))
        elif isinstance(node, ast.ClassDef) and isinstance(target, ast.ClassDef):
            spans += _class_spans(old_lines, target, new_lines, node)
        else:
            spans.append((_first(target), _last(target), _source(new_lines, node)))
    result = list(old_lines)
    for first, last, lines in sorted(spans, key=lambda s: s[0], reverse=True):
        result[first - 1 : last] = lines
    imports = _new_imports(old_tree, new_tree, new_lines, module)
    if imports:
        at = max((_last(n) for n in old_tree.body if isinstance(n, ast.Import | ast.ImportFrom)),
                 default=_after_docstring(old_tree))  # fmt: skip
        result[at:at] = imports
    for lines in added:
        while result and not result[-1].strip():
            result.pop()
        result += ["", "", *lines]
    merged = "\n".join(result) + "\n"
    return merged if _parse(merged) is not None else None


def _elides(node: ast.AST) -> bool:
    """A body of ``...``, or a function that only passes or raises NotImplementedError (the
    "# your implementation here" a small model writes): a placeholder, not the code."""
    if any(
        _placeholder(n)
        for n in ast.walk(node)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ):
        return True
    return any(
        isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) and n.value.value is ...
        for n in ast.walk(node)
    )


def _placeholder(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    body = [n for n in function.body if not _is_docstring(n)]
    if len(body) != 1:
        return False
    only = body[0]
    if isinstance(only, ast.Pass):
        return True
    if isinstance(only, ast.Raise) and only.exc is not None:
        exc = only.exc.func if isinstance(only.exc, ast.Call) else only.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _class_spans(
    old_lines: list[str], old: ast.ClassDef, new_lines: list[str], new: ast.ClassDef
) -> list[tuple[int, int, list[str]]]:
    """Replace a class whole, or (shown in part: fewer methods than it has) method by method."""
    old_methods = {n.name: n for n in old.body if isinstance(n, _DEFS)}
    new_methods = [n for n in new.body if isinstance(n, _DEFS)]
    others = [n for n in new.body if not isinstance(n, _DEFS) and not _is_docstring(n)]
    if len(new_methods) >= len(old_methods) or others or not new_methods:
        return [(_first(old), _last(old), _source(new_lines, new))]
    spans: list[tuple[int, int, list[str]]] = []
    indent = _indent(old_lines[_first(next(iter(old_methods.values()))) - 1])
    for node in new_methods:
        lines = _reindent(_source(new_lines, node), indent)
        target = old_methods.get(node.name)
        if target is None:
            spans.append((_last(old) + 1, _last(old), ["", *lines]))
        else:
            spans.append((_first(target), _last(target), lines))
    return spans


def _new_imports(
    old: ast.Module, new: ast.Module, new_lines: list[str], module: str = ""
) -> list[str]:
    """The block's imports the file lacks (never the file importing itself)."""
    have = {ast.unparse(n) for n in old.body if isinstance(n, ast.Import | ast.ImportFrom)}
    out: list[str] = []
    for node in new.body:
        if not isinstance(node, ast.Import | ast.ImportFrom) or ast.unparse(node) in have:
            continue
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [alias.name for alias in node.names]
        )
        if module and any(n == module or n.endswith(f".{module}") for n in names):
            continue
        out += _source(new_lines, node)
    return out


def _after_docstring(tree: ast.Module) -> int:
    if tree.body and _is_docstring(tree.body[0]):
        return _last(tree.body[0])
    return 0


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _first(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(d.lineno for d in decorators)])


def _last(node: ast.stmt) -> int:
    return node.end_lineno or node.lineno


def _source(lines: list[str], node: ast.stmt) -> list[str]:
    return lines[_first(node) - 1 : _last(node)]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindent(lines: list[str], indent: str) -> list[str]:
    body = textwrap.dedent("\n".join(lines)).splitlines()
    return [indent + line if line.strip() else "" for line in body]

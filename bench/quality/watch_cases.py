"""AI! requests: a file with one `AI!` comment; the change is made when the file, after the
suggested patch is applied, passes the case's check. Written before any tuning.

Checks that import the changed module run it in a subprocess of the bench's throwaway HOME and
case dir (it is the case's own tiny module, nothing else).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WatchCase:
    name: str
    path: str
    text: str
    check: str  # Python run with the case dir as cwd; exit 0 = the requested change is made


CASES: tuple[WatchCase, ...] = (
    WatchCase(
        "docstring",
        "shapes.py",
        "def area(width, height):  # AI! add a docstring to this function\n"
        "    return width * height\n",
        "import ast, sys\n"
        "tree = ast.parse(open('shapes.py').read())\n"
        "fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'area'][0]\n"
        "sys.exit(0 if ast.get_docstring(fn) else 1)\n",
    ),
    WatchCase(
        "empty_list",
        "stats.py",
        "# AI! make mean return 0 for an empty list instead of raising\n"
        "def mean(values):\n    return sum(values) / len(values)\n",
        "import sys\nsys.path.insert(0, '.')\nimport stats\n"
        "sys.exit(0 if stats.mean([]) == 0 and stats.mean([1, 3]) == 2 else 1)\n",
    ),
    WatchCase(
        "logging",
        "job.py",
        "import logging\n\n\ndef run():\n"
        "    print('job started')  # AI! use logging.info instead of print\n"
        "    return 42\n",
        "import sys\ntext = open('job.py').read()\n"
        "sys.exit(0 if 'logging.info(' in text and 'print(' not in text else 1)\n",
    ),
    WatchCase(
        "descending",
        "ranking.py",
        "def top(scores):\n    return sorted(scores)  # AI! sort in descending order\n",
        "import sys\nsys.path.insert(0, '.')\nimport ranking\n"
        "sys.exit(0 if ranking.top([2, 9, 4]) == [9, 4, 2] else 1)\n",
    ),
    WatchCase(
        "type_hints",
        "convert.py",
        "# AI! add type hints to celsius (float in, float out)\n"
        "def celsius(fahrenheit):\n    return (fahrenheit - 32) * 5 / 9\n",
        "import ast, sys\n"
        "tree = ast.parse(open('convert.py').read())\n"
        "fn = [n for n in tree.body if isinstance(n, ast.FunctionDef)][0]\n"
        "ok = fn.returns is not None and all(a.annotation is not None for a in fn.args.args)\n"
        "sys.exit(0 if ok else 1)\n",
    ),
    WatchCase(
        "rename",
        "totals.py",
        "def add_all(xs):\n    # AI! rename the variable s to total\n    s = 0\n"
        "    for x in xs:\n        s += x\n    return s\n",
        "import re, sys\nsys.path.insert(0, '.')\ntext = open('totals.py').read()\n"
        "import totals\n"
        "ok = 'total' in text and not re.search(r'\\bs\\b\\s*[+]?=', text) "
        "and totals.add_all([1, 2]) == 3\n"
        "sys.exit(0 if ok else 1)\n",
    ),
)

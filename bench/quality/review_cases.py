"""Review cases: one seeded bug per diff (and clean diffs), written before any tuning.

A bug counts as found when a shown finding on its file NAMES it: its title or explanation
matches one of the bug's patterns (a finding that only lands on the right line does not count).
A clean case counts the findings shown at warning or error severity (noise). Every "after"
adds or changes at least one line: review looks at added lines, so a deletion-only diff would
give the model nothing to review.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReviewCase:
    name: str
    path: str
    before: str
    after: str
    names_bug: tuple[str, ...] = ()  # regexes, any of which names the bug; empty: a clean case


CASES: tuple[ReviewCase, ...] = (
    ReviewCase(
        "off_by_one",
        "stats.py",
        "def total(items):\n    result = 0\n    for i in range(len(items)):\n"
        "        result += items[i]\n    return result\n",
        "def total(items):\n    result = 0\n    for i in range(len(items) + 1):\n"
        "        result += items[i]\n    return result\n",
        (r"off.by.one", r"IndexError", r"out of (range|bounds)", r"\+ ?1", r"past the end"),
    ),
    ReviewCase(
        "mutable_default",
        "cart.py",
        "def add_item(item, cart=None):\n    if cart is None:\n        cart = []\n"
        "    cart.append(item)\n    return cart\n",
        "def add_item(item, cart=[]):\n    cart.append(item)\n    return cart\n",
        (r"mutable", r"default (argument|value|parameter)", r"shared (between|across)"),
    ),
    ReviewCase(
        "sql_injection",
        "users.py",
        "def find_user(db, name):\n"
        '    return db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()\n',
        "def find_user(db, name):\n"
        "    return db.execute(f\"SELECT * FROM users WHERE name = '{name}'\").fetchone()\n",
        (r"injection", r"parameteri[sz]ed", r"placeholder", r"sanitiz"),
    ),
    ReviewCase(
        "zero_division",
        "metrics.py",
        "def mean(values):\n    if not values:\n        return 0.0\n"
        "    return sum(values) / len(values)\n",
        "def mean(values):\n    total = sum(values)\n    return total / len(values)\n",
        (r"zero", r"ZeroDivision", r"empty"),
    ),
    ReviewCase(
        "is_literal",
        "auth.py",
        'def is_admin(role):\n    return role == "admin"\n',
        'def is_admin(role):\n    return role is "admin"\n',
        (r"identity", r"\bis\b.*(==|equal)", r"==", r"literal"),
    ),
    ReviewCase(
        "file_leak",
        "config_loader.py",
        "def read_config(path):\n    with open(path) as fh:\n        return fh.read()\n",
        "def read_config(path):\n    fh = open(path)\n    data = fh.read()\n    return data\n",
        (r"clos", r"leak", r"context manager", r"\bwith\b"),
    ),
    ReviewCase(
        "swallowed_error",
        "payments.py",
        "def charge(client, amount):\n    try:\n        return client.charge(amount)\n"
        "    except TimeoutError:\n        raise RuntimeError('payment timed out') from None\n",
        "def charge(client, amount):\n    try:\n        return client.charge(amount)\n"
        "    except Exception:\n        pass\n",
        (r"swallow", r"silent", r"ignor", r"broad", r"bare except", r"pass"),
    ),
    ReviewCase(
        "missing_await",
        "api.js",
        "export async function loadUser(id) {\n  const res = await fetch(`/users/${id}`);\n"
        "  return await res.json();\n}\n",
        "export async function loadUser(id) {\n  const res = fetch(`/users/${id}`);\n"
        "  return res.json();\n}\n",
        (r"await", r"promise"),
    ),
    ReviewCase(
        "infinite_loop",
        "search.py",
        "def index_of(xs, target):\n    i = 0\n    while i < len(xs):\n"
        "        if xs[i] == target:\n            return i\n        i += 1\n    return -1\n",
        "def index_of(xs, target):\n    i = 0\n    while i < len(xs):\n"
        "        if target == xs[i]:\n            return i\n    return -1\n",
        (r"infinite", r"increment", r"never (ends|terminates|advances|changes)", r"i \+= 1"),
    ),
    ReviewCase(
        "path_traversal",
        "download.py",
        "import os\n\nBASE = '/srv/files'\n\n\ndef read_file(name):\n"
        "    path = os.path.realpath(os.path.join(BASE, name))\n"
        "    if not path.startswith(BASE + os.sep):\n        raise ValueError('bad name')\n"
        "    with open(path, 'rb') as fh:\n        return fh.read()\n",
        "import os\n\nBASE = '/srv/files'\n\n\ndef read_file(name):\n"
        "    path = os.path.join(BASE, name)\n"
        "    with open(path, 'rb') as fh:\n        return fh.read()\n",
        (r"traversal", r"\.\./", r"outside", r"validat", r"sanitiz"),
    ),
    ReviewCase(
        "password_logged",
        "login.py",
        "import logging\n\nlog = logging.getLogger(__name__)\n\n\ndef login(user, password):\n"
        "    log.info('login attempt for %s', user)\n    return check(user, password)\n",
        "import logging\n\nlog = logging.getLogger(__name__)\n\n\ndef login(user, password):\n"
        "    log.info('login attempt for %s with %s', user, password)\n"
        "    return check(user, password)\n",
        (r"password", r"sensitive", r"secret", r"credential"),
    ),
    ReviewCase(
        "wrong_return",
        "maxes.py",
        "def largest(xs):\n    best = xs[0]\n    for x in xs:\n        if x > best:\n"
        "            best = x\n    return best\n",
        "def largest(xs):\n    best = xs[0]\n    for x in xs:\n        if x > best:\n"
        "            best = x\n    return x\n",
        (r"return(s|ing)? (the )?(last|x\b|`x`)", r"\bbest\b", r"wrong (variable|value)"),
    ),
    # Clean diffs: a rename, a docstring, an extracted helper. Findings here are noise.
    ReviewCase(
        "clean_rename",
        "geometry.py",
        "def area(w, h):\n    return w * h\n",
        "def area(width, height):\n    return width * height\n",
    ),
    ReviewCase(
        "clean_docstring",
        "greet.py",
        "def greet(name):\n    return f'Hello, {name}!'\n",
        'def greet(name):\n    """Return a friendly greeting for ``name``."""\n'
        "    return f'Hello, {name}!'\n",
    ),
    ReviewCase(
        "clean_extract",
        "prices.py",
        "def total(prices):\n    return round(sum(prices) * 1.2, 2)\n",
        "VAT = 1.2\n\n\ndef with_vat(amount):\n    return round(amount * VAT, 2)\n\n\n"
        "def total(prices):\n    return with_vat(sum(prices))\n",
    ),
)

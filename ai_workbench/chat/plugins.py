"""Context plugins: small Python classes that add domain knowledge to a chat turn's context.

A plugin subclasses :class:`ContextPlugin`, sets ``name`` (and ``description``) and implements
``get_context(query, files) -> str``. Plugins are found, in increasing precedence, in the bundled
``plugins/`` dir, installed packages (entry point group ``aiw.plugins``), the user's
``<config_dir>/plugins`` and the project's ``<project_root>/.aiw/plugins``; a later source
overrides an earlier one with the same name (case-insensitive).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType

from ai_workbench.core.paths import bundled_dir, config_dir, find_project_root

__all__ = [
    "ENTRY_POINT_GROUP",
    "ContextPlugin",
    "KnowledgePlugin",
    "PluginLoadError",
    "PluginNotFound",
    "PluginRegistry",
    "PluginRun",
    "Section",
    "discover_plugins",
    "plugin_roots",
    "run_plugins",
]

ENTRY_POINT_GROUP = "aiw.plugins"
ENTRY_POINT_ORIGIN = "entry point"


class ContextPlugin:
    """Base class for context plugins: set ``name`` and implement :meth:`get_context`."""

    name: str = ""
    description: str = ""

    def get_context(self, query: str, files: list[Path]) -> str:
        """Text to add to the model's context for ``query`` and the attached ``files``.

        Return ``""`` when the plugin has nothing useful to add.
        """
        raise NotImplementedError(f"{type(self).__name__}.get_context is not implemented")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class PluginLoadError(Exception):
    """A plugin source (file or entry point) that could not be loaded."""

    def __init__(self, source: Path | str, detail: str, kind: str = "plugin file"):
        self.source = source
        self.detail = detail
        self.message = f"{kind} {source} failed to load: {detail}"
        super().__init__(self.message)


class PluginNotFound(KeyError):
    """No plugin with the given name; the message lists the available ones."""

    def __init__(self, name: str, available: list[str]):
        super().__init__(name)
        self.name = name
        self.available = available
        listed = ", ".join(available) or "(none)"
        self.message = f"unknown context plugin {name!r}; available: {listed}"
        close = difflib.get_close_matches(name.lower(), [a.lower() for a in available], n=1)
        if close:
            suggestion = next(a for a in available if a.lower() == close[0])
            self.message += f"; did you mean {suggestion!r}?"

    def __str__(self) -> str:
        return self.message


@dataclass
class PluginRegistry:
    """The plugins found, keyed by name as written, plus the sources that failed to load."""

    plugins: dict[str, ContextPlugin] = field(default_factory=dict)
    errors: list[PluginLoadError] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        return list(self.plugins)

    def __len__(self) -> int:
        return len(self.plugins)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) is not None

    def get(self, name: str) -> ContextPlugin:
        """The plugin called ``name`` (case-insensitive); raises :class:`PluginNotFound`."""
        key = self._key(name)
        if key is None:
            raise PluginNotFound(name, self.names())
        return self.plugins[key]

    def origin(self, name: str) -> str:
        """Where the plugin came from: ``bundled``, ``user``, ``project`` or ``entry point``."""
        return self.origins[self._require(name)]

    def source(self, name: str) -> str:
        """The file path or entry point the plugin was loaded from."""
        return self.sources[self._require(name)]

    def add(self, plugin: ContextPlugin, origin: str, source: str) -> None:
        """Register ``plugin``, replacing any plugin of the same name (case-insensitive)."""
        old = self._key(plugin.name)
        if old is not None:
            del self.plugins[old]
        self.plugins[plugin.name] = plugin
        self.plugins = dict(sorted(self.plugins.items(), key=lambda kv: kv[0].lower()))
        self.origins[plugin.name.lower()] = origin
        self.sources[plugin.name.lower()] = source

    def _key(self, name: str) -> str | None:
        wanted = name.strip().lower()
        return next((k for k in self.plugins if k.lower() == wanted), None)

    def _require(self, name: str) -> str:
        key = self._key(name)
        if key is None:
            raise PluginNotFound(name, self.names())
        return key.lower()


@dataclass
class PluginRun:
    """The output of :func:`run_plugins`: ``(plugin name, text)`` sections and error lines."""

    sections: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- discovery


def plugin_roots(project_root: Path | None = None) -> list[tuple[str, Path]]:
    """The plugin dirs as ``(origin, path)``; entry points rank between bundled and user."""
    project = project_root if project_root is not None else find_project_root()
    return [
        ("bundled", bundled_dir("plugins")),
        ("user", config_dir() / "plugins"),
        ("project", project / ".aiw" / "plugins"),
    ]


def _plugin_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.py") if p.is_file() and not p.name.startswith("_"))


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _module_name(path: Path, origin: str) -> str:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    return f"aiw_plugin_{origin.replace(' ', '_')}_{stem}_{digest}"


def _import_file(path: Path, origin: str) -> ModuleType:
    name = _module_name(path, origin)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot build an import spec for {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _plugin_classes(module: ModuleType) -> list[type[ContextPlugin]]:
    """ContextPlugin subclasses defined (not imported) in ``module`` that have a name."""
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, ContextPlugin)
        and obj.__module__ == module.__name__
        and isinstance(getattr(obj, "name", None), str)
        and obj.name.strip()
    ]


def _load_file(path: Path, origin: str) -> list[ContextPlugin]:
    try:
        module = _import_file(path, origin)
        return [cls() for cls in _plugin_classes(module)]
    except (Exception, SystemExit) as exc:
        raise PluginLoadError(path, _describe(exc)) from exc


def _entry_point_plugin(ep: metadata.EntryPoint) -> ContextPlugin:
    where = f"{ep.name!r} ({ep.value})"
    try:
        value = ep.load()
        if isinstance(value, type) and issubclass(value, ContextPlugin):
            value = value()
    except (Exception, SystemExit) as exc:
        raise PluginLoadError(where, _describe(exc), kind="plugin entry point") from exc
    if not isinstance(value, ContextPlugin) or not str(value.name or "").strip():
        detail = f"expected a named ContextPlugin subclass or instance, got {value!r}"
        raise PluginLoadError(where, detail, kind="plugin entry point")
    return value


def _entry_points() -> Iterable[metadata.EntryPoint]:
    try:
        return metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # pragma: no cover - broken distribution metadata
        return []


def discover_plugins(project_root: Path | None = None) -> PluginRegistry:
    """Find every plugin; failures are recorded in ``errors`` and never raised.

    Precedence, lowest first: bundled, entry points (``aiw.plugins``), user, project.
    ``project_root`` defaults to :func:`find_project_root` from the working directory.
    """
    registry = PluginRegistry()
    roots = plugin_roots(project_root)
    _scan_root(registry, *roots[0])
    for ep in _entry_points():
        try:
            plugin = _entry_point_plugin(ep)
        except PluginLoadError as exc:
            registry.errors.append(exc)
        else:
            registry.add(plugin, ENTRY_POINT_ORIGIN, f"entry point {ep.name} = {ep.value}")
    seen = {roots[0][1].resolve() if roots[0][1].exists() else roots[0][1]}
    for origin, root in roots[1:]:
        resolved = root.resolve() if root.exists() else root
        if resolved not in seen:
            seen.add(resolved)
            if origin == "project" and _plugin_files(root) and not _project_trusted(root):
                registry.errors.append(
                    PluginLoadError(
                        root,
                        "this project's plugins are code from the repository and are not run "
                        "until you trust it: `aiw plugins trust`",
                        kind="project plugins in",
                    )
                )
                continue
            _scan_root(registry, origin, root)
    return registry


def _project_trusted(plugin_dir: Path) -> bool:
    from ai_workbench.core.trust import is_trusted

    return is_trusted(plugin_dir.parent.parent)


def _scan_root(registry: PluginRegistry, origin: str, root: Path) -> None:
    for path in _plugin_files(root):
        try:
            plugins = _load_file(path, origin)
        except PluginLoadError as exc:
            registry.errors.append(exc)
            continue
        for plugin in plugins:
            registry.add(plugin, origin, str(path))


# --------------------------------------------------------------------------- running


def _dedupe(names: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for name in names:
        if name.strip().lower() not in seen:
            seen.add(name.strip().lower())
            unique.append(name)
    return unique


def run_plugins(
    registry: PluginRegistry, names: list[str], query: str, files: list[Path]
) -> PluginRun:
    """Run the named plugins in order; one that raises is reported and skipped.

    Every name is resolved first, so an unknown one raises :class:`PluginNotFound`
    before any plugin runs.
    """
    plugins = [registry.get(name) for name in _dedupe(names)]
    run = PluginRun()
    for plugin in plugins:
        try:
            text = plugin.get_context(query, list(files))
            if text is not None and not isinstance(text, str):
                raise TypeError(f"get_context returned {type(text).__name__}, expected str")
        except Exception as exc:
            run.errors.append(f"context plugin {plugin.name!r} failed: {_describe(exc)}; skipped")
            continue
        if text and text.strip():
            run.sections.append((plugin.name, text.strip()))
    return run


# --------------------------------------------------------------------------- knowledge bases


@dataclass(frozen=True)
class Section:
    """One topic of a :class:`KnowledgePlugin`: a title, trigger keywords and the text.

    ``keywords`` is a comma-separated list of words or phrases (``"order book, spread"``);
    matching ignores case, punctuation and a plural ``s``.
    """

    title: str
    keywords: str
    text: str

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.keywords.split(",") if t.strip())


_WORD = re.compile(r"[a-z0-9+#]+")


def _norm_token(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def _normalise(text: str) -> str:
    return " " + " ".join(_norm_token(t) for t in _WORD.findall(text.lower())) + " "


class KnowledgePlugin(ContextPlugin):
    """A keyword-scored knowledge base: subclasses set ``sections`` and ``checklist``.

    ``get_context`` returns the best-matching sections for the query (weight 2) and the
    attached files' names (weight 1), at most ``max_sections`` and about ``max_chars``.
    ``extensions`` maps a file suffix (``.sql``) to extra keywords it implies.
    """

    sections: tuple[Section, ...] = ()
    checklist: tuple[str, ...] = ()
    extensions: dict[str, tuple[str, ...]] = {}  # noqa: RUF012 - read-only class data
    max_sections: int = 3
    max_chars: int = 2000

    def get_context(self, query: str, files: list[Path]) -> str:
        chosen = self.select(query, files)
        if not chosen:
            return self.render_checklist()
        titles = ", ".join(s.title for s in chosen)
        header = f"{self.name} domain notes (aiw {self.name} plugin); topics: {titles}"
        return "\n\n".join([header, *(f"### {s.title}\n{s.text.strip()}" for s in chosen)])

    def select(self, query: str, files: list[Path]) -> list[Section]:
        query_text = _normalise(query)
        file_text = _normalise(" ".join(self._file_words(files)))
        scored = [(self.score(s, query_text, file_text), i, s) for i, s in enumerate(self.sections)]
        ranked = sorted((x for x in scored if x[0] > 0), key=lambda x: (-x[0], x[1]))
        chosen: list[Section] = []
        used = 0
        for _, _, section in ranked:
            size = len(section.title) + len(section.text) + 8
            if len(chosen) >= self.max_sections:
                break
            if chosen and used + size > self.max_chars:
                continue
            chosen.append(section)
            used += size
        return chosen

    @staticmethod
    def score(section: Section, query_text: str, file_text: str) -> int:
        """Keyword score of ``section`` against already-normalised query and file text."""
        total = 0
        for keyword in section.terms:
            needle = _normalise(keyword)
            if not needle.strip():
                continue
            weight = needle.count(" ") - 1  # words in the keyword: phrases count more
            total += 2 * weight * (needle in query_text) + weight * (needle in file_text)
        return total

    def _file_words(self, files: list[Path]) -> list[str]:
        words: list[str] = []
        for path in files:
            p = Path(path)
            words.append(p.stem.replace("_", " ").replace("-", " "))
            words.extend(self.extensions.get(p.suffix.lower(), ()))
        return words

    def render_checklist(self) -> str:
        header = f"{self.name} domain notes (aiw {self.name} plugin): general checklist"
        return "\n".join([header, *(f"- {item}" for item in self.checklist)])

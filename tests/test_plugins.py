"""Context plugins: bundled knowledge bases, discovery, overrides, failures and running."""

from __future__ import annotations

import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from ai_workbench.chat import plugins as plugins_mod
from ai_workbench.chat.plugins import (
    ContextPlugin,
    PluginLoadError,
    PluginNotFound,
    PluginRegistry,
    discover_plugins,
    run_plugins,
)
from ai_workbench.core.trust import set_trusted


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = tmp_path / "config"
    cfg.mkdir()
    monkeypatch.setenv("AIW_CONFIG_DIR", str(cfg))
    monkeypatch.setattr(plugins_mod, "_entry_points", list)
    return cfg


@pytest.fixture
def project(tmp_path: Path, config: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    set_trusted(root)
    return root


def write_plugin(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


SIMPLE = """
from ai_workbench.chat.plugins import ContextPlugin

class {cls}(ContextPlugin):
    name = {name!r}
    description = "test plugin"

    def get_context(self, query, files):
        return {text!r} + " " + query
"""


def simple(name: str, text: str, cls: str = "P") -> str:
    return SIMPLE.format(cls=cls, name=name, text=text)


class Recorder(ContextPlugin):
    def __init__(self, name: str, text: str = "", error: Exception | None = None) -> None:
        self.name = name
        self.text = text
        self.error = error
        self.calls: list[tuple[str, list[Path]]] = []

    def get_context(self, query: str, files: list[Path]) -> str:
        self.calls.append((query, files))
        if self.error:
            raise self.error
        return self.text


def registry_of(*items: ContextPlugin) -> PluginRegistry:
    registry = PluginRegistry()
    for item in items:
        registry.add(item, "user", "test")
    return registry


# --------------------------------------------------------------------------- bundled


def test_bundled_plugins_load(project: Path) -> None:
    registry = discover_plugins(project)
    assert registry.errors == []
    assert registry.names() == ["Data", "Trading", "Web"]
    for name in registry.names():
        assert registry.origin(name) == "bundled"
        assert registry.get(name).description


@pytest.mark.parametrize(
    ("plugin", "query", "files", "expected"),
    [
        ("Trading", "explain order-book imbalance", [], "imbalance"),
        ("Trading", "how do I avoid look-ahead bias in my backtest?", [], "Look-ahead"),
        ("Trading", "", [Path("session.fix")], "MsgSeqNum"),
        ("Web", "our LCP is bad on mobile", [], "LCP < 2.5 s"),
        ("Web", "is this CSP strong enough against XSS", [], "nonce"),
        ("Data", "why is this query slow, do I need an index?", [], "EXPLAIN"),
        ("Data", "", [Path("reports/daily.sql")], "sargable"),
        ("Data", "pandas merge duplicates rows", [], "validate="),
    ],
)
def test_bundled_plugins_return_relevant_sections(
    project: Path, plugin: str, query: str, files: list[Path], expected: str
) -> None:
    text = discover_plugins(project).get(plugin).get_context(query, files)
    assert expected in text
    assert text.splitlines()[0].startswith(f"{plugin} domain notes")
    assert len(text) <= 2300


def test_bundled_plugin_falls_back_to_checklist(project: Path) -> None:
    text = discover_plugins(project).get("trading").get_context("hello there", [])
    assert "general checklist" in text.splitlines()[0]
    assert text.count("\n- ") >= 3


# --------------------------------------------------------------------------- discovery


def test_user_and_project_plugins_are_discovered(config: Path, project: Path) -> None:
    write_plugin(config / "plugins" / "mine.py", simple("Mine", "from user"))
    write_plugin(project / ".aiw" / "plugins" / "local.py", simple("Local", "from project"))
    registry = discover_plugins(project)
    assert registry.names() == ["Data", "Local", "Mine", "Trading", "Web"]
    assert registry.origin("mine") == "user"
    assert registry.origin("LOCAL") == "project"
    assert registry.source("Local") == str(project / ".aiw" / "plugins" / "local.py")
    assert registry.get("mine").get_context("q", []) == "from user q"


def test_later_roots_override_by_case_insensitive_name(config: Path, project: Path) -> None:
    write_plugin(config / "plugins" / "trading.py", simple("trading", "user trading"))
    registry = discover_plugins(project)
    assert "trading" in registry.plugins and "Trading" not in registry.plugins
    assert registry.origin("Trading") == "user"

    write_plugin(project / ".aiw" / "plugins" / "trading.py", simple("TRADING", "project trading"))
    registry = discover_plugins(project)
    assert registry.names() == ["Data", "TRADING", "Web"]
    assert registry.origin("trading") == "project"
    assert registry.get("Trading").get_context("x", []) == "project trading x"


def test_only_named_classes_defined_in_the_file_are_loaded(config: Path, project: Path) -> None:
    source = """
    from ai_workbench.chat.plugins import ContextPlugin, KnowledgePlugin

    class Base(ContextPlugin):
        pass

    class First(Base):
        name = "First"
        def get_context(self, query, files):
            return "1"

    class Second(ContextPlugin):
        name = "Second"
        def get_context(self, query, files):
            return "2"
    """
    write_plugin(config / "plugins" / "two.py", source)
    write_plugin(config / "plugins" / "_private.py", simple("Private", "no"))
    write_plugin(config / "plugins" / "__init__.py", "raise RuntimeError('never imported')\n")
    registry = discover_plugins(project)
    assert registry.errors == []
    assert registry.names() == ["Data", "First", "Second", "Trading", "Web"]


def test_plugin_file_with_syntax_error_is_recorded(config: Path, project: Path) -> None:
    bad = write_plugin(config / "plugins" / "broken.py", "def oops(:\n    pass\n")
    write_plugin(config / "plugins" / "good.py", simple("Good", "ok"))
    registry = discover_plugins(project)
    [error] = registry.errors
    assert isinstance(error, PluginLoadError)
    assert error.source == bad
    assert str(error).startswith(f"plugin file {bad} failed to load: SyntaxError:")
    assert "Good" in registry.plugins and "Trading" in registry.plugins


def test_plugin_file_raising_on_import_is_recorded(config: Path, project: Path) -> None:
    bad = write_plugin(project / ".aiw" / "plugins" / "zero.py", "x = 1 / 0\n")
    [error] = discover_plugins(project).errors
    assert str(error) == f"plugin file {bad} failed to load: ZeroDivisionError: division by zero"
    assert error.message == str(error)


def test_plugin_constructor_failure_is_recorded(config: Path, project: Path) -> None:
    source = """
    from ai_workbench.chat.plugins import ContextPlugin

    class Needy(ContextPlugin):
        name = "Needy"
        def __init__(self, required):
            self.required = required
    """
    write_plugin(config / "plugins" / "needy.py", source)
    registry = discover_plugins(project)
    assert "Needy" not in registry.plugins
    assert "TypeError" in str(registry.errors[0])


def test_entry_points(
    config: Path, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site"
    write_plugin(package / "aiw_ep_demo.py", simple("Demo", "ep", cls="Demo") + "\nINST = Demo()\n")
    monkeypatch.syspath_prepend(str(package))
    eps = [
        EntryPoint(name="demo", value="aiw_ep_demo:Demo", group="aiw.plugins"),
        EntryPoint(name="inst", value="aiw_ep_demo:INST", group="aiw.plugins"),
        EntryPoint(name="junk", value="aiw_ep_demo:simple_not_there", group="aiw.plugins"),
        EntryPoint(name="nota", value="textwrap:dedent", group="aiw.plugins"),
    ]
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda: eps)
    registry = discover_plugins(project)
    assert registry.origin("demo") == "entry point"
    assert registry.get("Demo").get_context("q", []) == "ep q"
    messages = [str(e) for e in registry.errors]
    assert len(messages) == 2
    assert messages[0].startswith("plugin entry point 'junk' (aiw_ep_demo:simple_not_there)")
    assert "AttributeError" in messages[0]
    assert "expected a named ContextPlugin subclass or instance" in messages[1]

    write_plugin(config / "plugins" / "demo.py", simple("demo", "user wins"))
    assert discover_plugins(project).origin("Demo") == "user"


def test_default_project_root_is_found_from_cwd(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".git").mkdir()
    write_plugin(project / ".aiw" / "plugins" / "here.py", simple("Here", "h"))
    monkeypatch.chdir(project)
    assert discover_plugins().origin("here") == "project"


# --------------------------------------------------------------------------- lookup and run


def test_unknown_plugin_lists_available(project: Path) -> None:
    registry = discover_plugins(project)
    with pytest.raises(PluginNotFound) as info:
        registry.get("Tradin")
    message = str(info.value)
    assert message.startswith("unknown context plugin 'Tradin'; available: Data, Trading, Web")
    assert "did you mean 'Trading'?" in message
    assert isinstance(info.value, KeyError)
    with pytest.raises(PluginNotFound):
        registry.origin("nope")


def test_failing_plugin_is_reported_and_skipped(config: Path, project: Path) -> None:
    source = """
    from ai_workbench.chat.plugins import ContextPlugin

    class Boom(ContextPlugin):
        name = "Boom"
        def get_context(self, query, files):
            raise RuntimeError("boom")
    """
    write_plugin(config / "plugins" / "boom.py", source)
    registry = discover_plugins(project)
    run = run_plugins(registry, ["boom", "Trading"], "explain order-book imbalance", [])
    assert run.errors == ["context plugin 'Boom' failed: RuntimeError: boom; skipped"]
    assert [name for name, _ in run.sections] == ["Trading"]
    assert "imbalance" in run.sections[0][1]


def test_run_skips_empty_text_and_duplicates() -> None:
    empty, full = Recorder("Empty", "  \n"), Recorder("Full", " text \n")
    run = run_plugins(registry_of(empty, full), ["Empty", "full", "FULL"], "q", [Path("a.py")])
    assert run.sections == [("Full", "text")]
    assert run.errors == []
    assert full.calls == [("q", [Path("a.py")])]


def test_run_reports_wrong_return_type() -> None:
    class Bad(ContextPlugin):
        name = "Bad"

        def get_context(self, query: str, files: list[Path]) -> str:
            return 42  # type: ignore[return-value]

    run = run_plugins(registry_of(Bad()), ["Bad"], "q", [])
    assert run.sections == []
    assert run.errors == [
        "context plugin 'Bad' failed: TypeError: get_context returned int, expected str; skipped"
    ]


def test_unknown_name_raises_before_any_plugin_runs() -> None:
    first = Recorder("First", "x")
    with pytest.raises(PluginNotFound, match="available: First"):
        run_plugins(registry_of(first), ["First", "Missing"], "q", [])
    assert first.calls == []


def test_base_class_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError):
        ContextPlugin().get_context("q", [])
    assert run_plugins(
        registry_of(Recorder("R", error=NotImplementedError())), ["R"], "", []
    ).errors


def test_untrusted_project_plugins_are_not_run(config: Path, tmp_path: Path) -> None:
    root = tmp_path / "cloned"
    marker = tmp_path / "ran"
    write_plugin(
        root / ".aiw" / "plugins" / "evil.py",
        f"open({str(marker)!r}, 'w').write('x')\n"
        + SIMPLE.format(cls="Evil", name="Evil", text="e"),
    )
    registry = discover_plugins(root)
    assert not marker.exists()
    assert "Evil" not in registry.plugins
    assert any("aiw plugins trust" in str(error) for error in registry.errors)
    set_trusted(root)
    assert "Evil" in discover_plugins(root).plugins and marker.exists()

"""Personas: bundled files, lookup rules, user/project overrides and front matter errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_workbench.chat.personas import (
    Persona,
    PersonaError,
    PersonaNotFound,
    load_personas,
    parse_persona,
)

BUNDLED_IDS = {
    "core/SA-1",
    "core/DA-1",
    "core/CA-1",
    "domains/trading/QTSA-1",
    "domains/finance/ADA-1",
    "domains/web/FEA-1",
}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = tmp_path / "config"
    cfg.mkdir()
    monkeypatch.setenv("AIW_CONFIG_DIR", str(cfg))
    return cfg


@pytest.fixture
def project(tmp_path: Path, config: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def write_persona(path: Path, front: str, body: str = "You are a helpful specialist.") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front.strip()}\n---\n{body}\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- bundled


def test_all_bundled_personas_load(project: Path) -> None:
    catalog = load_personas(project)
    assert catalog.errors == []
    assert set(catalog.personas) == BUNDLED_IDS
    assert list(catalog.personas) == sorted(catalog.personas)
    for persona in catalog:
        assert persona.name and persona.description
        assert persona.origin == "bundled"
        assert persona.source.is_file()
        assert not persona.prompt.startswith("---")
        assert 40 <= len(persona.prompt.splitlines()) <= 130
        assert persona.temperature is None or 0 <= persona.temperature <= 2


def test_bundled_names(project: Path) -> None:
    catalog = load_personas(project)
    assert catalog.get("core/SA-1").name == "Systems Architect"
    assert "review" in catalog.get("core/CA-1").description.lower()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("core/SA-1", "core/SA-1"),
        ("CORE/sa-1", "core/SA-1"),
        ("SA-1", "core/SA-1"),
        ("sa-1", "core/SA-1"),
        ("core/SA-1.md", "core/SA-1"),
        ("trading/QTSA-1", "domains/trading/QTSA-1"),
        ("qtsa-1", "domains/trading/QTSA-1"),
        ("web/fea-1", "domains/web/FEA-1"),
        ("Code Analyst", "core/CA-1"),
    ],
)
def test_lookup(project: Path, name: str, expected: str) -> None:
    assert load_personas(project).get(name).id == expected


def test_contains_and_len(project: Path) -> None:
    catalog = load_personas(project)
    assert "sa-1" in catalog
    assert "nope" not in catalog
    assert len(catalog) == len(BUNDLED_IDS)


def test_unknown_persona_lists_available(project: Path) -> None:
    catalog = load_personas(project)
    with pytest.raises(PersonaNotFound) as info:
        catalog.get("SA1")
    message = str(info.value)
    assert message.startswith("unknown persona 'SA1'; available: core/CA-1, core/DA-1")
    assert "domains/web/FEA-1" in message
    assert "did you mean 'core/SA-1'?" in message
    assert isinstance(info.value, KeyError)


def test_unknown_persona_without_close_match(project: Path) -> None:
    with pytest.raises(PersonaNotFound) as info:
        load_personas(project).get("zzzzzz")
    assert "did you mean" not in str(info.value)


# --------------------------------------------------------------------------- overrides


def test_user_persona_overrides_bundled(config: Path, project: Path) -> None:
    write_persona(config / "personas" / "core" / "SA-1.md", "name: My Architect\ndescription: d")
    persona = load_personas(project).get("sa-1")
    assert persona.name == "My Architect"
    assert persona.origin == "user"
    assert persona.source == config / "personas" / "core" / "SA-1.md"


def test_project_persona_overrides_user(config: Path, project: Path) -> None:
    write_persona(config / "personas" / "core" / "SA-1.md", "name: User one\ndescription: d")
    write_persona(project / ".aiw" / "personas" / "core" / "SA-1.md", "name: Proj\ndescription: d")
    catalog = load_personas(project)
    assert catalog.get("core/SA-1").name == "Proj"
    assert catalog.get("core/SA-1").origin == "project"
    assert len(catalog) == len(BUNDLED_IDS)


def test_new_user_and_project_personas(config: Path, project: Path) -> None:
    write_persona(config / "personas" / "mine" / "Helper.md", "name: Helper\ndescription: d")
    write_persona(project / ".aiw" / "personas" / "Local.md", "name: Local\ndescription: d")
    catalog = load_personas(project)
    assert catalog.get("helper").id == "mine/Helper"
    assert catalog.get("Local").origin == "project"
    assert set(catalog.personas) == BUNDLED_IDS | {"mine/Helper", "Local"}


def test_ambiguous_suffix_lists_candidates(config: Path, project: Path) -> None:
    write_persona(config / "personas" / "team" / "SA-1.md", "name: Team\ndescription: d")
    catalog = load_personas(project)
    with pytest.raises(PersonaNotFound) as info:
        catalog.get("SA-1")
    assert "ambiguous" in str(info.value)
    assert "core/SA-1" in str(info.value) and "team/SA-1" in str(info.value)
    assert catalog.get("team/SA-1").name == "Team"


def test_default_project_root_is_found_from_cwd(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".git").mkdir()
    write_persona(project / ".aiw" / "personas" / "Here.md", "name: Here\ndescription: d")
    (project / "src").mkdir()
    monkeypatch.chdir(project / "src")
    assert load_personas().get("here").origin == "project"


# --------------------------------------------------------------------------- front matter


def test_front_matter_parsing(config: Path, project: Path) -> None:
    front = """
# a comment line
name: "Quoted: Name"
description: 'single quoted'
model: openai/gpt-4o-mini
temperature: 0.7
colour: ignored
"""
    write_persona(config / "personas" / "Q.md", front, body="\n\n  Body text.  \n\n")
    persona = load_personas(project).get("Q")
    assert persona == Persona(
        id="Q",
        name="Quoted: Name",
        description="single quoted",
        prompt="Body text.",
        model="openai/gpt-4o-mini",
        temperature=0.7,
        source=config / "personas" / "Q.md",
        origin="user",
    )


def test_optional_keys_default_to_none(config: Path, project: Path) -> None:
    write_persona(config / "personas" / "P.md", "name: P\ndescription: d\nmodel:")
    persona = load_personas(project).get("P")
    assert persona.model is None and persona.temperature is None


def test_missing_name_is_reported_not_fatal(config: Path, project: Path) -> None:
    path = write_persona(config / "personas" / "core" / "X.md", "description: no name here")
    catalog = load_personas(project)
    assert len(catalog.errors) == 1
    error = catalog.errors[0]
    assert error.source == path and error.key == "name"
    assert str(path) in str(error)
    assert "name: expected a non-empty value" in str(error)
    assert set(catalog.personas) == BUNDLED_IDS
    with pytest.raises(PersonaError) as info:
        catalog.get("core/X")
    assert info.value is error


def test_bad_temperature_names_file_key_and_value(config: Path, project: Path) -> None:
    path = write_persona(config / "personas" / "X.md", "name: X\ndescription: d\ntemperature: hot")
    catalog = load_personas(project)
    [error] = catalog.errors
    assert str(error) == f"{path}: temperature: expected a number between 0 and 2, got 'hot'"
    with pytest.raises(PersonaError, match="temperature"):
        catalog.get("x")


@pytest.mark.parametrize("value", ["3", "-0.1", "nan"])
def test_temperature_out_of_range(value: str) -> None:
    text = f"---\nname: X\ndescription: d\ntemperature: {value}\n---\nbody\n"
    with pytest.raises(PersonaError, match="expected a number between 0 and 2"):
        parse_persona(text, id="X", source=Path("X.md"), origin="user")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("no front matter\n", "front matter: expected the file to start with a '---' line"),
        ("---\nname: X\ndescription: d\n", "front matter: expected a closing '---' line"),
        ("---\nname: X\ndescription: d\n---\n\n", "prompt: expected a Markdown body"),
        ("---\nname X\ndescription: d\n---\nbody\n", "line 2: expected 'key: value'"),
        ("---\nname: X\nname: Y\ndescription: d\n---\nbody\n", "name: expected the key only once"),
        ("---\nname: X\n---\nbody\n", "description: expected a non-empty value"),
    ],
)
def test_malformed_files(text: str, fragment: str) -> None:
    with pytest.raises(PersonaError) as info:
        parse_persona(text, id="X", source=Path("/p/X.md"), origin="user")
    assert str(info.value).startswith("/p/X.md: ")
    assert fragment in str(info.value)


def test_broken_bundled_style_path_is_relative() -> None:
    from ai_workbench.chat import personas

    root = personas.bundled_dir("personas")
    error = PersonaError(root / "core" / "X.md", "name", "bad", display="personas/core/X.md")
    assert str(error) == "personas/core/X.md: name: bad"


def test_broken_override_hides_earlier_file(config: Path, project: Path) -> None:
    (project / ".aiw" / "personas" / "core").mkdir(parents=True)
    (project / ".aiw" / "personas" / "core" / "CA-1.md").write_text("oops", encoding="utf-8")
    catalog = load_personas(project)
    assert "core/CA-1" not in catalog.personas
    with pytest.raises(PersonaError, match=r"CA-1\.md"):
        catalog.get("ca-1")


def test_valid_override_replaces_broken_earlier_file(config: Path, project: Path) -> None:
    (config / "personas").mkdir()
    (config / "personas" / "Z.md").write_text("broken", encoding="utf-8")
    write_persona(project / ".aiw" / "personas" / "Z.md", "name: Z\ndescription: d")
    catalog = load_personas(project)
    assert len(catalog.errors) == 1
    assert catalog.get("z").origin == "project"


def test_readme_and_hidden_files_are_skipped(config: Path, project: Path) -> None:
    (config / "personas" / ".hidden").mkdir(parents=True)
    (config / "personas" / "README.md").write_text("# how to", encoding="utf-8")
    (config / "personas" / ".hidden" / "A.md").write_text("junk", encoding="utf-8")
    catalog = load_personas(project)
    assert catalog.errors == []
    assert set(catalog.personas) == BUNDLED_IDS

"""core.patches: model patches applied with git, checked first, confined to the project."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ai_workbench.core.patches import (
    PatchError,
    apply_patch,
    check_patch,
    file_digest,
    normalise_patch,
    patch_paths,
)

ORIGINAL = "def add(a, b):\n    return a - b\n\n\nprint(add(1, 2))\n"
FIX = """--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""


@pytest.fixture(params=["git", "plain"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A project with calc.py, as a git repository and as a plain directory."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "calc.py").write_text(ORIGINAL)
    if request.param == "git":
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_apply_changes_the_file(project: Path) -> None:
    result = apply_patch(project, FIX)
    assert result.paths == ["calc.py"]
    assert "return a + b" in (project / "calc.py").read_text()


def test_model_style_patch_without_prefixes_in_a_fence(project: Path) -> None:
    fenced = "```diff\n" + FIX.replace("a/calc.py", "calc.py").replace("b/calc.py", "calc.py")
    fenced += "```\n"
    assert patch_paths(fenced) == ["calc.py"]
    apply_patch(project, fenced)
    assert "return a + b" in (project / "calc.py").read_text()


def test_conflict_changes_nothing_and_names_the_file(project: Path) -> None:
    (project / "calc.py").write_text("def add(a, b):\n    return sum((a, b))\n")
    before = (project / "calc.py").read_text()
    with pytest.raises(PatchError, match=r"calc\.py.*nothing changed"):
        apply_patch(project, FIX)
    assert (project / "calc.py").read_text() == before


def test_file_edited_since_the_suggestion_is_refused(project: Path) -> None:
    expect = {"calc.py": file_digest(project / "calc.py")}
    (project / "calc.py").write_text(ORIGINAL + "# edited by the user\n")
    with pytest.raises(PatchError, match="changed since the suggestion"):
        apply_patch(project, FIX, expect=expect)
    assert (project / "calc.py").read_text().endswith("# edited by the user\n")


def test_unchanged_expectation_applies(project: Path) -> None:
    expect = {"calc.py": file_digest(project / "calc.py")}
    apply_patch(project, FIX, expect=expect)
    assert "return a + b" in (project / "calc.py").read_text()


@pytest.mark.parametrize("name", ["../outside.py", "/etc/passwd", ".git/config"])
def test_paths_outside_the_project_are_refused(project: Path, name: str) -> None:
    evil = f"--- /dev/null\n+++ b/{name.lstrip('/')}\n@@ -0,0 +1 @@\n+x\n"
    if name.startswith("/"):
        evil = f"--- /dev/null\n+++ {name}\n@@ -0,0 +1 @@\n+x\n"
    with pytest.raises(PatchError, match="refused"):
        check_patch(project, evil)
    assert not (project.parent / "outside.py").exists()


def test_symlink_out_of_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (project / "link").symlink_to(outside)
    patch = "--- /dev/null\n+++ b/link/new.py\n@@ -0,0 +1 @@\n+x\n"
    with pytest.raises(PatchError, match="outside the project"):
        apply_patch(project, patch)
    assert not (outside / "new.py").exists()


def test_new_file_and_deletion(project: Path) -> None:
    patch = (
        "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+VALUE = 1\n+OTHER = 2\n"
        "--- a/calc.py\n+++ /dev/null\n@@ -1,5 +0,0 @@\n"
        + "".join(f"-{line}\n" for line in ORIGINAL.splitlines())
    )
    result = apply_patch(project, patch)
    assert result.created == ["pkg/new.py"]
    assert result.deleted == ["calc.py"]
    assert (project / "pkg/new.py").read_text() == "VALUE = 1\nOTHER = 2\n"
    assert not (project / "calc.py").exists()


def test_not_a_diff_is_a_clear_error(project: Path) -> None:
    with pytest.raises(PatchError, match="not a unified diff"):
        check_patch(project, "Just change the minus to a plus.")
    with pytest.raises(PatchError, match="empty"):
        check_patch(project, "  \n")


def test_normalise_keeps_hunks_exact() -> None:
    text = normalise_patch("--- x.py\n+++ x.py\n@@ -1 +1 @@\n-a  \n+b\t\n")
    assert text == "--- a/x.py\n+++ b/x.py\n@@ -1,1 +1,1 @@\n-a  \n+b\t\n"


def test_miscounted_hunks_from_a_model_still_apply(project: Path) -> None:
    """Models get @@ counts wrong and drop the space of blank context lines."""
    patch = (
        "--- a/calc.py\n+++ b/calc.py\n@@ -1,9 +1,9 @@\n def add(a, b):\n-    return a - b\n"
        "+    return a + b\n\n\n print(add(1, 2))\n"
    )
    apply_patch(project, patch)
    assert (project / "calc.py").read_text() == ORIGINAL.replace("a - b", "a + b")


def test_removed_sql_comment_lines_are_content_not_headers(tmp_path: Path) -> None:
    """Removing `-- comment` gives a `--- comment` line inside the hunk; it stays content."""
    root = tmp_path / "db"
    root.mkdir()
    (root / "query.sql").write_text("-- only active users AI!\nSELECT * FROM users;\n")
    patch = (
        "--- a/query.sql\n+++ b/query.sql\n@@ -1,2 +1,1 @@\n"
        "--- only active users AI!\n-SELECT * FROM users;\n+SELECT * FROM users WHERE active;\n"
    )
    assert patch_paths(patch) == ["query.sql"]
    assert "--- only active users AI!" in normalise_patch(patch)
    apply_patch(root, patch)
    assert (root / "query.sql").read_text() == "SELECT * FROM users WHERE active;\n"


LINK_OUT = """diff --git a/notes.md b/notes.md
new file mode 120000
index 0000000..1111111
--- /dev/null
+++ b/notes.md
@@ -0,0 +1 @@
+../../home/user/.ssh/config
\\ No newline at end of file
"""
LINK_IN = LINK_OUT.replace("../../home/user/.ssh/config", "docs/guide.md")
MODE_CHANGE = """diff --git a/calc.py b/calc.py
old mode 100644
new mode 100755
"""
NEW_EXECUTABLE = """diff --git a/run.sh b/run.sh
new file mode 100755
index 0000000..1111111
--- /dev/null
+++ b/run.sh
@@ -0,0 +1 @@
+echo hi
"""


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (LINK_OUT, "symlink to ../../home/user/.ssh/config, outside the project"),
        (LINK_OUT.replace("../../home/user/.ssh/config", "/etc/passwd"), "outside the project"),
        (MODE_CHANGE, "changes the mode of calc.py"),
        (
            FIX.replace(
                "--- a/calc.py",
                "diff --git a/calc.py b/calc.py\nold mode 100644\nnew mode 100755\n--- a/calc.py",
            ),
            "changes the mode",
        ),
        (NEW_EXECUTABLE, "creates run.sh with mode 100755"),
    ],
)
def test_symlinks_out_and_mode_changes_are_refused(project: Path, patch: str, message: str) -> None:
    """Issue 13: git apply would create the link or chmod the file; aiw refuses first."""
    with pytest.raises(PatchError, match=message):
        apply_patch(project, patch)
    assert not (project / "notes.md").is_symlink()
    assert not (project / "run.sh").exists()
    assert (project / "calc.py").read_text() == ORIGINAL
    assert not (project / "calc.py").stat().st_mode & 0o111


def test_a_symlink_inside_the_project_still_applies(project: Path) -> None:
    (project / "docs").mkdir()
    (project / "docs" / "guide.md").write_text("guide\n")
    apply_patch(project, LINK_IN)
    assert (project / "notes.md").is_symlink()
    assert (project / "notes.md").read_text() == "guide\n"

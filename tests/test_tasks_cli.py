"""`aiw task`, `aiw remind` and tasks proposed by a model in `aiw ask` (loopback fake LLM)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from ai_workbench.core.llm.tools import ToolCall
from ai_workbench.store import Store
from ai_workbench.tasks.intake import TaskInput
from ai_workbench.tasks.service import TaskService
from ai_workbench.tasks.toolbox import TOOL_NAME, TaskToolbox, offer_tasks_tool
from tests.conftest import IsolatedEnv, RunAiw
from tests.fake_llm import FakeLLM, tool_results

BERLIN_ENV = {"AIW_TASKS__TIMEZONE": "Europe/Berlin"}


def tasks_json(run_aiw: RunAiw, *args: str) -> list[dict[str, Any]]:
    listed = run_aiw("task", "list", "--json", *args, env=BERLIN_ENV)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_add_echoes_the_date_and_list_show_done_rm(run_aiw: RunAiw, isolated_env: Any) -> None:
    doc = isolated_env.work / "runbook.md"
    doc.write_text("steps\n")
    added = run_aiw(
        "task", "add", "renew the TLS cert on 2030-01-10 14:00", "--remind", "1d",
        "--tag", "ops", "--link", "https://example.com/cert", "--file", str(doc), env=BERLIN_ENV,
    )  # fmt: skip
    undated = run_aiw("task", "add", "buy milk", env=BERLIN_ENV)

    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == (
        'added task 1: "renew the TLS cert" due Thu 2030-01-10 14:00 Europe/Berlin, '
        "remind 1d before, tags ops, 2 link(s)"
    )
    assert 'added task 2: "buy milk" no due date' in undated.stdout
    listed = tasks_json(run_aiw)
    assert [t["title"] for t in listed] == ["renew the TLS cert", "buy milk"]
    assert listed[0]["due"] == "2030-01-10T14:00:00+01:00"
    assert listed[0]["links"][1] == {"kind": "file", "target": str(doc)}
    assert [t["title"] for t in tasks_json(run_aiw, "--tag", "ops")] == ["renew the TLS cert"]
    assert tasks_json(run_aiw, "--due", "overdue") == []

    shown = run_aiw("task", "show", "1", env=BERLIN_ENV)
    assert "next:     Wed 2030-01-09 14:00 Europe/Berlin" in shown.stdout
    done = run_aiw("task", "done", "2", env=BERLIN_ENV)
    assert done.stdout.strip() == "task 2 done."
    assert [t["title"] for t in tasks_json(run_aiw)] == ["renew the TLS cert"]
    removed = run_aiw("task", "rm", "1")
    assert removed.stdout.strip() == "deleted task 1."
    assert tasks_json(run_aiw) == []


def test_an_ambiguous_date_is_refused_headless_and_nothing_is_saved(run_aiw: RunAiw) -> None:
    refused = run_aiw("task", "add", "pay rent 03/04", env=BERLIN_ENV)
    past = run_aiw("task", "add", "backup yesterday", env=BERLIN_ENV)
    bad_link = run_aiw("task", "add", "read it", "--link", "example.com")

    assert refused.returncode == 2
    assert "ambiguous date: '03/04' could be day/month or month/day" in refused.stderr
    assert "YYYY-MM-DD" in refused.stderr
    assert past.returncode == 2 and "in the past" in past.stderr
    assert bad_link.returncode == 2 and "--link 'example.com' is not a URL" in bad_link.stderr
    assert tasks_json(run_aiw, "--all") == []
    configured = run_aiw(
        "task", "add", "pay rent 03/04", env={**BERLIN_ENV, "AIW_TASKS__DATE_ORDER": "DMY"}
    )
    assert configured.returncode == 0, configured.stderr
    assert "due Sat 2027-04-03 09:00" in configured.stdout or "-04-03 09:00" in configured.stdout


def test_snooze_edit_recurrence_and_ics_export(run_aiw: RunAiw, isolated_env: Any) -> None:
    run_aiw("task", "add", "standup every monday 10:00", env=BERLIN_ENV)
    shown = tasks_json(run_aiw)[0]
    assert shown["rrule"] == "FREQ=WEEKLY;BYDAY=MO"
    snoozed = run_aiw("task", "snooze", "1", "2h", env=BERLIN_ENV)
    assert snoozed.returncode == 0 and "snoozed; reminder at" in snoozed.stdout
    edited = run_aiw("task", "edit", "1", "--due", "2030-01-07 11:00", env=BERLIN_ENV)
    assert "due Mon 2030-01-07 11:00 Europe/Berlin, repeats every week on MO" in edited.stdout
    done = run_aiw("task", "done", "1", env=BERLIN_ENV)
    assert "next: Mon 2030-01-14 11:00 Europe/Berlin" in done.stdout
    target = isolated_env.work / "tasks.ics"
    exported = run_aiw("task", "export", "--ics", str(target))
    assert exported.stdout.strip() == f"wrote 1 task(s) to {target}"
    from icalendar import Calendar

    (todo,) = Calendar.from_ical(target.read_bytes()).walk("VTODO")
    assert str(todo["summary"]) == "standup"
    bad = run_aiw("task", "snooze", "1", "soon")
    assert bad.returncode == 2 and "cannot read the duration 'soon'" in bad.stderr


def test_remind_once_lists_missed_reminders_and_delivers_nothing_twice(run_aiw: RunAiw) -> None:
    run_aiw("task", "add", "deploy", "--due", "2030-01-10 10:00", env=BERLIN_ENV)
    first = run_aiw("remind", "--once", "--no-desktop", env=BERLIN_ENV)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""  # nothing due yet


async def test_nothing_is_created_without_confirmation_in_aiw_ask(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    fake_llm.tool_calls = [
        [
            {
                "name": TOOL_NAME,
                "arguments": {"title": "rotate the staging keys", "when": "2030-01-08 10:00"},
            }
        ]
    ]
    fake_llm.reply_fn = lambda body: "Proposed. " + " ".join(tool_results(body))
    asked = run_aiw(
        "ask", "--model", "openai/echo", "--api-base", fake_llm.base_url,
        "remind me to rotate the staging keys next Tuesday at 10", env=BERLIN_ENV,
    )  # fmt: skip

    assert asked.returncode == 0, asked.stderr
    offered = fake_llm.chat_requests[0]["json"]["tools"]
    # propose_task is offered (memory's remember_fact rides along since both landed)
    assert TOOL_NAME in [t["function"]["name"] for t in offered]
    assert "NOT saved yet" in tool_results(fake_llm.chat_requests[1]["json"])[0]
    assert (
        'the model proposes a task: "rotate the staging keys" due Tue 2030-01-08 10:00 '
        "Europe/Berlin" in asked.stderr
    )
    assert tasks_json(run_aiw, "--all") == []  # headless: nothing saved
    command = asked.stderr.split("to save it run: ", 1)[1].splitlines()[0]
    assert command.startswith("aiw task add 'rotate the staging keys' --due '2030-01-08 10:00'")
    saved = run_aiw(*shlex.split(command)[1:], env=BERLIN_ENV)
    assert saved.returncode == 0, saved.stderr
    assert [t["title"] for t in tasks_json(run_aiw)] == ["rotate the staging keys"]

    fake_llm.reset()
    plain = run_aiw("ask", "--model", "openai/echo", "--api-base", fake_llm.base_url, "hello")
    plain_tools = fake_llm.chat_requests[0]["json"].get("tools", [])
    assert plain.returncode == 0 and TOOL_NAME not in [t["function"]["name"] for t in plain_tools]


async def test_a_proposal_is_saved_only_on_yes(store: Store) -> None:
    from ai_workbench.cli.task import confirm_proposals

    toolbox = TaskToolbox(TaskInput())
    for title in ("renew cert", "water plants"):
        outcome = await toolbox.call(
            ToolCall(0, "c", TOOL_NAME, arguments={"title": title, "when": "2030-01-10 09:00"})
        )
        assert not outcome.is_error
    assert await TaskService(store).list() == []  # proposing saves nothing

    said: list[str] = []
    answers = iter([False, True])
    saved = await confirm_proposals(
        toolbox.proposals, store, ask=lambda _q: next(answers), say=said.append
    )

    assert [t.title for t in saved] == ["water plants"]
    assert [t.title for t in await TaskService(store).list()] == ["water plants"]
    assert toolbox.proposals[0].declined and "not saved" in said


async def test_an_ambiguous_proposed_date_goes_back_to_the_model() -> None:
    toolbox = TaskToolbox(TaskInput())
    outcome = await toolbox.call(
        ToolCall(0, "c", TOOL_NAME, arguments={"title": "pay rent", "when": "03/04"})
    )
    assert outcome.is_error and "Ask the user which date they mean" in outcome.text
    assert toolbox.proposals == []


def test_the_tool_is_offered_when_the_prompt_asks_for_it() -> None:
    assert offer_tasks_tool("remind me to call bob tomorrow")
    assert offer_tasks_tool("напомни завтра позвонить")
    assert not offer_tasks_tool("explain this stack trace")
    assert offer_tasks_tool("explain this", "always")
    assert not offer_tasks_tool("remind me", "never")


def test_a_long_list_is_cut_with_a_count_of_the_rest(run_aiw: RunAiw) -> None:
    for number in range(3):
        run_aiw("task", "add", f"task {number}", "--due", f"2030-01-1{number} 09:00")
    cut = run_aiw("task", "list", "--limit", "2", env=BERLIN_ENV)
    assert cut.returncode == 0, cut.stderr
    assert "task 0" in cut.stdout and "task 1" in cut.stdout and "task 2" not in cut.stdout
    assert cut.stdout.rstrip().endswith("… and 1 more (--limit 0 lists all)")
    assert len(tasks_json(run_aiw)) == 3  # JSON lists every one


def test_date_and_calendar_libraries_load_only_when_used(isolated_env: IsolatedEnv) -> None:
    from tests.test_imports import imported_by

    modules = (
        "ai_workbench.tasks.service, ai_workbench.tasks.dates, ai_workbench.tasks.scheduler,"
        " ai_workbench.tasks.toolbox, ai_workbench.tasks.ics, ai_workbench.cli.task"
    )
    loaded = imported_by(f"import {modules}", isolated_env.work)
    assert "ai_workbench" in loaded
    assert not {"dateparser", "icalendar", "dateutil", "regex"} & loaded

"""`etl webhooks` against a sandbox over real HTTP: subscribe (the default triggers and receiver,
named topics, no duplicates on a second run), list and unsubscribe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.cli.webhooks import RECEIVER_URL
from engine.loop.subscriptions import TOPICS, triggers_for
from engine.sandbox.server import SandboxHandle
from tests.cli.loop_support import etl, mapping_file

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def mapping(tmp_path: Path) -> str:
    return str(mapping_file(tmp_path))


def subscriptions(sb: SandboxHandle) -> list[tuple[str, str, str, str]]:
    with sb.client() as client:
        found = client.get("/webhooks").json()["webhooks"]
    return [(s["topic"], s["trigger"], s["url"], s["status"]) for s in found]


def test_webhooks_subscribe_named_topics_active_and_once(sb: SandboxHandle, mapping: str) -> None:
    first = etl(sb, "webhooks", mapping, "subscribe", "--url", HOOK, "--topic", "return",
                "--topic", "label.updated")  # fmt: skip
    again = etl(sb, "webhooks", mapping, "subscribe", "--url", HOOK, "--topic", "return")

    assert first.exit_code == 0, first.output
    assert [line.split()[0] for line in first.stdout.splitlines()] == ["created"] * 4
    assert "return/return.closed  active  " + HOOK in first.stdout
    assert again.exit_code == 0, again.output
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["exists"] * 3
    assert sorted(subscriptions(sb)) == sorted(
        [("return", t, HOOK, "active") for t in TOPICS["return"]]
        + [("label", "label.updated", HOOK, "active")]
    )


def test_webhooks_subscribe_defaults_to_the_receiver_and_the_return_triggers(
    sb: SandboxHandle, mapping: str
) -> None:
    result = etl(sb, "webhooks", mapping, "subscribe")

    made = subscriptions(sb)
    assert {url for _, _, url, _ in made} == {RECEIVER_URL}
    wanted = set(triggers_for())
    processing = ("return.processing", "return.processing.failed")
    assert {(topic, trigger) for topic, trigger, _, _ in made} | {processing} == wanted
    if processing in {(topic, trigger) for topic, trigger, _, _ in made}:
        assert result.exit_code == 0, result.output
    else:  # this Loop does not take the return.processing topic: said, and the rest went on
        assert result.exit_code == 1, result.output
        assert "error: subscribe return.processing/return.processing.failed: " in result.stderr
        assert f"error: 1 of {len(wanted)} subscriptions failed" in result.stderr
    assert RECEIVER_URL == "http://127.0.0.1:8080/webhooks/loop"


def test_webhooks_list_and_unsubscribe(sb: SandboxHandle, mapping: str) -> None:
    etl(sb, "webhooks", mapping, "subscribe", "--url", HOOK, "--topic", "restock")

    listed = etl(sb, "webhooks", mapping, "list", "--json")
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    gone = etl(sb, "webhooks", mapping, "unsubscribe", row["id"])
    table = etl(sb, "webhooks", mapping, "list")

    assert listed.exit_code == 0, listed.output
    assert (row["topic"], row["trigger"], row["url"], row["status"]) == (
        "restock",
        "restock.requested",
        HOOK,
        "active",
    )
    assert gone.exit_code == 0 and gone.stdout.strip() == f"unsubscribed {row['id']}"
    assert table.exit_code == 0 and table.stdout.strip() == "0 subscription(s)"
    assert subscriptions(sb) == []


def test_webhooks_unsubscribe_unknown_prints_loops_message(sb: SandboxHandle, mapping: str) -> None:
    result = etl(sb, "webhooks", mapping, "unsubscribe", "4242")

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: unsubscribe 4242: Loop said: ")
    assert "NOT_FOUND" in result.stderr and "HTTP 404" in result.stderr


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        pytest.param(("subscribe", "--topic", "retrun"), "did you mean 'return'", id="topic"),
        pytest.param(("subscribe", "--url", "localhost:8080"), "http(s)://", id="url"),
        pytest.param(("unsubscribe", "abc"), "not an id", id="id"),
    ],
)
def test_webhooks_bad_arguments_exit_2_and_send_nothing(
    sb: SandboxHandle, mapping: str, args: tuple[str, ...], shown: str
) -> None:
    result = etl(sb, "webhooks", mapping, *args)

    assert result.exit_code == 2, result.output
    assert shown in result.stderr
    assert sb.admin.requests() == []


def test_webhooks_help_names_the_default_receiver(mapping: str, sb: SandboxHandle) -> None:
    result = etl(sb, "webhooks", mapping, "subscribe", "--help")

    assert result.exit_code == 0
    assert RECEIVER_URL in result.stdout and "etl serve" in result.stdout


def test_webhooks_on_an_embedded_loop_start_the_sandbox_and_leave_the_state_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LOOP_API_URL", "LOOP_API_KEY", "LOOP_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    mapping = str(mapping_file(tmp_path))

    first = CliRunner().invoke(main, ["webhooks", mapping, "subscribe", "--topic", "label"])
    second = CliRunner().invoke(main, ["webhooks", mapping, "list"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0 and "2 subscription(s)" in second.stdout, second.output
    assert sorted(p.name for p in (tmp_path / ".etl").iterdir()) == [
        "returns-cli.sandbox.duckdb"
    ], "the embedded sandbox keeps its data beside the state; the state is not opened"

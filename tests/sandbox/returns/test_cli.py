"""`etl sandbox return create|list` against a running sandbox (engine/sandbox/returns/cli.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from engine.sandbox.cli import sandbox as sandbox_cli
from engine.sandbox.server import SandboxHandle
from tests.sandbox.support import Order, sandbox, sync_order

_tags = itertools.count(2500)


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxHandle]:
    with sandbox() as handle:
        yield handle


@pytest.fixture
def order(sb: SandboxHandle) -> Order:
    return sync_order(sb, tag=str(next(_tags)))


def test_returns_cli_create_and_list(sb: SandboxHandle, order: Order) -> None:
    runner = CliRunner()
    result = runner.invoke(
        sandbox_cli,
        [
            "return",
            "create",
            "--url",
            sb.base_url,
            "--order-id",
            str(order.id),
            "--line",
            str(order.lines[0]),
            "--line",
            f"{order.lines[1]}:exchange:{order.exchange_variant}",
            "--reason",
            "Too big",
        ],
    )
    assert result.exit_code == 0, result.output
    return_id = int(result.output.strip())
    stored = sb.admin.get(f"/returns/{return_id}").json()
    # Loop's lines all say "default"; the sandbox keeps what was asked for beside it.
    assert [ln["outcome"] for ln in stored["line_items"]] == ["default", "default"]
    assert [ln["requested_outcome"] for ln in stored["line_items"]] == ["refund", "exchange"]
    assert stored["line_items"][0]["return_reason"] == "Too big"
    listed = runner.invoke(sandbox_cli, ["return", "list", "--url", sb.base_url])
    assert listed.exit_code == 0 and str(return_id) in listed.output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--line", "1:teleport"], id="unknown outcome"),
        pytest.param(["--line", "1:exchange"], id="exchange without variant"),
        pytest.param(["--line", "x"], id="line not an id"),
    ],
)
def test_returns_cli_rejects_bad_lines(sb: SandboxHandle, args: list[str]) -> None:
    result = CliRunner().invoke(
        sandbox_cli, ["return", "create", "--url", sb.base_url, "--order-id", "1", *args]
    )
    assert result.exit_code == 2


def test_returns_cli_reports_sandbox_errors(sb: SandboxHandle) -> None:
    result = CliRunner().invoke(
        sandbox_cli, ["return", "create", "--url", sb.base_url, "--order-id", "1", "--line", "2"]
    )
    assert result.exit_code == 1 and "422" in result.output

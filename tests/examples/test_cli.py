"""`etl demo ...`: the examples' commands, which `etl` finds through its entry points."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from engine.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_shopify_like_serves(tmp_path: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-c", "from engine.cli import main; main()", "demo", "shopify-like",
               "--port", str(port), "--orders", "30", "--seed", "2"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/admin/api/2024-01/orders/count.json?status=any"
        deadline, response = time.monotonic() + 15, None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(url, headers={"X-Shopify-Access-Token": "demo"})
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None and response.json() == {"count": 30}
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert f"http://127.0.0.1:{port}/admin/api/2024-01" in output


def test_cli_erp_and_oms(tmp_path: Path) -> None:
    runner = CliRunner()
    erp = runner.invoke(
        main, ["demo", "erp-like", "--out", str(tmp_path / "erp"), "--orders", "20"]
    )
    oms = runner.invoke(
        main, ["demo", "oms-like", "--out", str(tmp_path / "oms.sqlite"), "--orders", "20"]
    )
    assert erp.exit_code == 0 and oms.exit_code == 0, erp.output + oms.output
    assert (tmp_path / "erp" / "sales_orders.csv").exists() and (tmp_path / "oms.sqlite").exists()


def test_cli_erp_apply_needs_a_generated_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "erp-like", "apply", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "not a folder the erp-like demo generated" in result.output
    assert CliRunner().invoke(main, ["demo", "erp-like"]).exit_code == 2  # --out is required

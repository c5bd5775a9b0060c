"""`fan_out:`: an entity's records are the items of a list inside each extracted record, the
extracted record reachable as `parent`; pushed, tested and previewed item by item."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from engine.cli import main
from engine.sandbox.server import running_sandbox

MAPPING = """\
version: 1
name: fan-out
source: {connector: files, root: data}
target: {base_url: "TARGET", api_key: sandbox, rate_limit: 0/min}
entities:
  customers:
    extract: {path: accounts.json}
    fan_out: contacts
    map:
      external_id: to_string(id)
      email: email
      tags: "[parent.name]"
tests:
  - name: every contact of an account is a customer tagged with the account
    entity: customers
    input: {name: Acme, contacts: [{id: 1, email: a@acme.test}, {id: 2, email: b@acme.test}]}
    expect: [{external_id: "1", tags: [Acme]}, {external_id: "2", email: b@acme.test}]
"""

ACCOUNTS = [
    {"name": "Acme", "contacts": [{"id": 1, "email": "a@acme.test"}, {"id": 2, "email": "b@acme.test"}]},
    {"name": "Globex", "contacts": [{"id": 3, "email": "c@globex.test"}]},
    {"name": "Empty", "contacts": []},
]  # fmt: skip


def _write(tmp_path: Path, target: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "accounts.json").write_text(json.dumps(ACCOUNTS))
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING.replace("TARGET", target))
    return path


def test_fan_out_pushes_each_item_once_with_its_parent_and_then_nothing(tmp_path: Path) -> None:
    with running_sandbox() as sandbox:
        mapping = _write(tmp_path, sandbox.base_url)
        state = str(tmp_path / "s.duckdb")
        first = CliRunner().invoke(main, ["run", str(mapping), "--json", "--state", state])
        again = CliRunner().invoke(main, ["run", str(mapping), "--json", "--state", state])
        stored = {c["external_id"]: c for c in sandbox.admin.records("customer")}
    assert first.exit_code == 0, first.output
    [summary] = json.loads(first.output)["entities"]
    assert summary["extracted"] == 3 and summary["created"] == 3  # 3 accounts, 3 contacts
    assert {k: v["tags"] for k, v in stored.items()} == {
        "1": ["Acme"], "2": ["Acme"], "3": ["Globex"],
    }  # fmt: skip
    [second] = json.loads(again.output)["entities"]
    assert second["created"] == 0 and second["updated"] == 0 and second["requests"] == 0


def test_fan_out_entities_are_tested_and_previewed_item_by_item(tmp_path: Path) -> None:
    mapping = _write(tmp_path, "embedded")
    tested = CliRunner().invoke(main, ["test", str(mapping)])
    previewed = CliRunner().invoke(
        main, ["preview", str(mapping), "--entity", "customers", "--json"]
    )
    assert tested.exit_code == 0, tested.output
    payloads = [json.loads(line)["payload"] for line in previewed.output.splitlines()]
    assert [p["external_id"] for p in payloads] == ["1", "2", "3"]
    assert payloads[2]["tags"] == ["Globex"]


def test_fan_out_with_variants_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        MAPPING.replace("customers:", "products:", 1)
        .replace(
            "    fan_out: contacts\n", "    fan_out: contacts\n    variants: {each: v, map: {}}\n"
        )
        .split("tests:")[0]
    )
    checked = CliRunner().invoke(main, ["check", str(path)])
    assert checked.exit_code == 2
    assert "entities.products.fan_out: an entity with `variants:` cannot fan out" in checked.output

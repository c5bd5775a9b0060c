"""The mapping as frozen dataclasses: what `build` makes from a checked document."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.loop.kinds import Kind
from engine.mapping.yamlsource import KeyPath, Positions

# `lookup: line_items` in an order: the Loop id of one of the order's own lines (refunds need
# them), known only from Loop's answer to the order's first PUT.
ORDER_LINES = "line_items"


@dataclass(frozen=True)
class Target:
    base_url: str = "embedded"
    api_key: str = "sandbox"
    api_version: str = "2026-10"
    rate_limit: str = "300/min"
    concurrency: int = 4
    timeout_s: float = 30.0
    max_retries: int = 6
    outage_s: float = 60.0
    webhook_secret: str | None = None  # what Loop signs webhooks with (`etl serve` verifies)
    bulk: dict[str, Any] | None = None  # {entities: [...], min_batch}: engine.pipeline.bulk

    def __repr__(self) -> str:  # the API key and the webhook secret: never in a repr
        return f"Target(base_url={self.base_url!r}, api_version={self.api_version!r})"


@dataclass(frozen=True)
class Window:
    """An entity's `window:`: only records whose `field` (JMESPath over the source record, a
    timestamp) lies in the last `days` days are sent; records Loop already has are always
    updated. `older`: records outside the window are skipped for good (`skip`) or sent after
    the window's ones in the first backfill (`later`). `extract`: keys merged into the
    entity's `extract:` during that backfill (the source's newest-first order and filter),
    read once per `slice_days` piece of the window, newest first, when set."""

    field: str
    days: int = 120
    older: str = "skip"
    slice_days: int | None = None
    # `field` above shadows dataclasses.field inside this class body
    extract: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Entity:
    """One entity: its Loop kind, extraction block and field specs (raw, compiled later)."""

    name: str
    kind: Kind
    path: KeyPath
    map: dict[str, Any]
    extract: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    key: str = "external_id"
    enabled: bool = True
    parent: str | None = None  # for a child entity (variants): the parent entity's name
    each: str | None = None  # for a child entity: selects its items in the parent record
    where: str | None = None
    # For a top-level entity: its records are the items of this list in each extracted record
    # (JMESPath), the extracted record being their `parent`.
    fan_out: str | None = None
    # Other platform keys the entity's records are found by: alias -> JMESPath over the source
    # record (a variant's inventory_item_id, for inventory levels). Lookups name one with `via`.
    aliases: dict[str, str] = field(default_factory=dict)
    window: Window | None = None  # a top-level entity's `window:` (orders: the returnable ones)
    # `send: referenced`: a record Loop does not have yet is sent only once a record that looks
    # it up is sent (customers without an order); `always` (the default): every record.
    send: str = "always"


@dataclass(frozen=True)
class SourceFixture:
    """A test's source data, run through the entity's real extract instead of an `input`
    record: `files` (name -> text) under a temporary root, `tables` (name -> rows) in a
    temporary database, `responses` (path -> JSON body) served on a loopback port."""

    files: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    responses: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TestCase:
    name: str
    entity: str
    input: dict[str, Any] | None
    path: KeyPath
    expect: Any = None
    expect_error: tuple[str, ...] = ()
    lookups: dict[str, dict[str, Any]] = field(default_factory=dict)
    validate: bool = True
    fixture: SourceFixture | None = None  # instead of `input`: extract from this, then map


@dataclass(frozen=True)
class RuleAction:
    """One return action of a rule: flag (an optional note), note, process (details), close,
    cancel. Texts are Jinja templates over the return."""

    kind: str
    text: str | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """`rules:` entry: on these triggers, when the condition holds, take these actions."""

    name: str
    triggers: tuple[str, ...]
    actions: tuple[RuleAction, ...]
    path: KeyPath
    when: str | None = None


@dataclass(frozen=True)
class ReturnActionSource:
    """`return_actions:` entry: records from the platform that become actions on returns."""

    name: str
    extract: dict[str, Any]
    key: str
    action: str
    path: KeyPath
    return_id: str | None = None
    order: str | None = None
    order_name: str | None = None
    orders_entity: str = "orders"
    note: str | None = None
    lines: str | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutcomeStep:
    """One step of an outcome, run in the platform: `kind` is http, file or sql and `spec` its
    block as written (compiled by engine.mapping.outcomes)."""

    name: str
    kind: str
    spec: dict[str, Any]
    path: KeyPath


@dataclass(frozen=True)
class Outcome:
    """`outcomes:` entry (bucket IV): on these Loop events, when the condition holds, run these
    steps in the platform once per return, then sync these entities back to Loop."""

    name: str
    triggers: tuple[str, ...]
    steps: tuple[OutcomeStep, ...]
    path: KeyPath
    when: str | None = None
    sync: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubscriptionList:
    """`platform_webhooks.subscribe.list`: where the platform lists its webhook subscriptions
    (GET `path`), the list in the body (`records`, JMESPath; None: the body) and, in each, its
    topic and the address it calls (JMESPath)."""

    path: str
    records: str | None = None
    topic: str = "topic"
    address: str = "address"


@dataclass(frozen=True)
class PlatformSubscribe:
    """`platform_webhooks.subscribe`: how `etl serve` subscribes to the platform's change
    webhooks: `method` `path` with `body` (its strings Jinja templates of `topic`, `url` and
    `entity`) for each of `topics` (topic -> the entity its records are); existing
    subscriptions (from `listing`) are skipped."""

    path: str
    topics: dict[str, str]
    body: Any
    method: str = "POST"
    listing: SubscriptionList | None = None


@dataclass(frozen=True)
class Mapping:
    """A loaded, checked mapping file."""

    file: Path
    name: str
    source: dict[str, Any]
    target: Target
    entities: dict[str, Entity]
    order: tuple[str, ...]  # entities in dependency order
    vars: dict[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"
    currency: str = "USD"
    state_path: str | None = None
    tests: tuple[TestCase, ...] = ()
    rules: tuple[Rule, ...] = ()
    return_actions: tuple[ReturnActionSource, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    platform_webhooks: dict[str, Any] | None = None
    platform_subscribe: PlatformSubscribe | None = None
    # `reconcile.expected_extras`: entity -> None (every extra record is expected) or a JMESPath
    # over Loop's record, true when that record is expected
    expected_extras: dict[str, str | None] = field(default_factory=dict)
    schedule: dict[str, str | None] = field(
        default_factory=lambda: {"sync": "15m", "poll": "5m", "reconcile": None}
    )
    positions: Positions = field(default_factory=lambda: Positions(""))
    secret_paths: frozenset[KeyPath] = frozenset()

    @property
    def base_dir(self) -> Path:
        return self.file.parent

"""Load -> check -> build: a mapping file becomes a `Mapping`, or a ConfigError with every problem.

Phases: YAML with positions, `${VAR}` interpolation, the mapping JSON Schema (all errors at
once), the connector's own schemas, then entity-level rules (kinds, children, depends_on,
lookups, cycles). Compiling the field specs is the next phase (engine.mapping.compile).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping as AnyMapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from connectors.expressions import function_names
from connectors.registry import connector_class, extract_problems, source_problems
from engine import redaction
from engine.errors import ConfigError, Problem
from engine.loop.kinds import KINDS, Kind, kind_for_entity
from engine.mapping import sections
from engine.mapping.fixtures import fixture_of, fixture_problems
from engine.mapping.functions import LoopFunctions
from engine.mapping.graph import dependency_order, lookups_in, send_problems
from engine.mapping.interpolate import interpolate
from engine.mapping.model import (
    ORDER_LINES,
    Entity,
    Mapping,
    Outcome,
    PlatformSubscribe,
    ReturnActionSource,
    Rule,
    RuleAction,
    Target,
    TestCase,
)
from engine.mapping.suggest import unknown
from engine.mapping.yamlsource import KeyPath, Positions, load_yaml_file
from engine.resources import schemas_dir


@cache
def _mapping_validator() -> jsonschema.Draft202012Validator:
    with (schemas_dir() / "mapping.schema.json").open(encoding="utf-8") as fh:
        schema = json.load(fh)
    return jsonschema.Draft202012Validator(schema)


def schema_problems(
    validator: jsonschema.protocols.Validator,
    data: Any,
    positions: Positions,
    prefix: KeyPath = (),
    secret_paths: frozenset[KeyPath] | set[KeyPath] = frozenset(),
) -> list[Problem]:
    """Every JSON Schema error as a Problem at its position; values from ${VAR} are not echoed."""
    problems = []
    for err in validator.iter_errors(data):
        path: KeyPath = (*prefix, *(str(p) if isinstance(p, str) else p for p in err.absolute_path))
        message = err.message
        if path in secret_paths:
            message = message.replace(repr(err.instance), "the value from the environment")
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            message = _unexpected_keys(err, message)
        problems.append(positions.problem(path, message))
    return sorted(problems, key=lambda p: (p.line, p.col, p.message))


def _unexpected_keys(err: jsonschema.ValidationError, message: str) -> str:
    allowed = sorted(err.schema.get("properties", {}))
    # str(): YAML 1.1 reads a bare `on:` or `yes:` key as a boolean
    extra = sorted(str(k) for k in err.instance if str(k) not in allowed)
    if not extra or not allowed:
        return message
    return "; ".join(unknown("key", key, allowed) for key in extra)


# Where the data comes from and goes: named on purpose by run summaries (without credentials).
_SHOWN: frozenset[KeyPath] = frozenset(
    {("target", "base_url"), ("source", "base_url"), ("source", "root"), ("source", "database")}
)


def load_mapping(path: str | Path, env: AnyMapping[str, str] | None = None) -> Mapping:
    """Load, interpolate, check and build a mapping file; ConfigError lists every problem."""
    file = Path(path)
    raw, positions = load_yaml_file(file)
    taken: dict[KeyPath, list[str]] = {}
    data, touched = interpolate(raw, positions, os.environ if env is None else env, taken)
    redaction.remember(v for path, values in taken.items() if path not in _SHOWN for v in values)
    secrets = frozenset(touched)
    problems = schema_problems(_mapping_validator(), data, positions, secret_paths=secrets)
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in {file}", problems)
    builder = _Build(file, data, positions)
    mapping = builder.build(secrets)
    if builder.problems:
        error = ConfigError(f"{len(builder.problems)} problem(s) in {file}", builder.problems)
        error.partial = mapping  # type: ignore[attr-defined]  # lets `check` compile the rest
        raise error
    return mapping


def _rule_action(spec: dict[str, Any]) -> RuleAction:
    ((kind, value),) = spec.items()  # the schema allows exactly one key
    if kind == "process":
        return RuleAction(kind, details={str(k): str(v) for k, v in (value or {}).items()})
    return RuleAction(kind, text=value if isinstance(value, str) else None)


class _Build:
    """Builds the dataclasses while collecting every semantic problem."""

    def __init__(self, file: Path, data: dict[str, Any], positions: Positions) -> None:
        self.file, self.data, self.positions = file, data, positions
        self.problems: list[Problem] = []

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.positions.problem(path, message))

    def build(self, secrets: frozenset[KeyPath]) -> Mapping:
        d = self.data
        entities = self._entities()
        self._check_source(entities)
        order = self._order(entities)
        target = Target(**d.get("target", {}))
        self._check_target(target, secrets)
        for i, name in enumerate((target.bulk or {}).get("entities", [])):
            if name not in entities:  # a typo would silently send one request per record
                self.problem(("target", "bulk", "entities", i), f"{name!r} is not an entity")
        return Mapping(
            file=self.file,
            name=d["name"],
            source=d["source"],
            target=target,
            entities=entities,
            order=order,
            vars=d.get("vars", {}),
            timezone=d.get("timezone", "UTC"),
            currency=d.get("currency", "USD").upper(),
            state_path=d.get("state", {}).get("path"),
            tests=self._tests(entities),
            rules=self._rules(),
            return_actions=self._return_actions(entities),
            outcomes=self._outcomes(entities),
            platform_webhooks=d.get("platform_webhooks"),
            platform_subscribe=self._platform_subscribe(entities),
            expected_extras=sections.expected_extras(d, entities, self.problem),
            schedule={"sync": "15m", "poll": "5m", "reconcile": None, **d.get("schedule", {})},
            positions=self.positions,
            secret_paths=secrets,
        )

    def _check_target(self, target: Target, secrets: frozenset[KeyPath]) -> None:
        """Loop's base URL: `embedded`, or http(s)://host. A value from the environment is not
        echoed (it may carry credentials)."""
        url = target.base_url
        if url == "embedded" or url.startswith("embedded:"):
            return
        parts = urlsplit(url)
        try:
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            port_ok = False
        if parts.scheme in ("http", "https") and parts.hostname and port_ok:
            return
        path: KeyPath = ("target", "base_url")
        shown = "the value from the environment" if path in secrets else repr(url)
        self.problem(path, f"{shown} is not an http(s) URL with a host (or `embedded`)")

    def _entities(self) -> dict[str, Entity]:
        out: dict[str, Entity] = {}
        for name, spec in self.data["entities"].items():
            path: KeyPath = ("entities", name)
            kind = self._entity_kind(name, spec, path)
            if kind is None:
                continue
            out[name] = Entity(
                name=name,
                kind=kind,
                path=path,
                map=spec["map"],
                extract=spec.get("extract", {}),
                depends_on=tuple(spec.get("depends_on", ())),
                key=spec.get("key", "external_id"),
                enabled=spec.get("enabled", True),
                aliases=spec.get("aliases", {}),
                fan_out=spec.get("fan_out"),
                window=sections.window(spec.get("window"), (*path, "window"), self.problem),
                send=spec.get("send", "always"),
            )
            child = spec.get("variants")
            if spec.get("window") is not None and spec.get("fan_out"):
                self.problem((*path, "window"), "an entity that fans out cannot have a window")
            if child is not None and spec.get("fan_out"):
                self.problem((*path, "fan_out"), "an entity with `variants:` cannot fan out")
            elif child is not None:
                self._variants(out, name, kind.name, child, path)
        return out

    def _entity_kind(self, name: str, spec: dict[str, Any], path: KeyPath) -> Kind | None:
        """The Loop kind of a top-level entity; None (and a problem) when it has none or is a
        child kind."""
        kind = kind_for_entity(name, spec.get("kind"))
        if kind is None:
            self.problem(
                path,
                "cannot tell the Loop kind from the name: "
                + unknown("entity kind", name, [k.plural for k in KINDS.values()])
                + "; set `kind:`",
            )
        elif kind.write == "child":
            where = (*path, "kind") if "kind" in spec else path
            self.problem(
                where,
                f"a top-level entity of kind {kind.name} cannot be pushed on its own: Loop "
                f"writes {kind.plural} under their {kind.parent} (the {kind.parent}'s "
                f"external_id is in the URL); declare them as `{kind.plural}:` inside the "
                f"{kind.parent} entity (`each:` selects them from each {kind.parent} record)",
            )
            return None
        return kind

    def _variants(
        self, out: dict[str, Entity], parent: str, kind: str, spec: dict[str, Any], path: KeyPath
    ) -> None:
        if kind != "product":
            self.problem((*path, "variants"), "only a product entity can have variants")
            return
        if "variants" in self.data["entities"]:
            self.problem((*path, "variants"), "variants are declared twice (here and as an entity)")
            return
        out["variants"] = Entity(
            name="variants",
            kind=KINDS["variant"],
            path=(*path, "variants"),
            map=spec["map"],
            depends_on=(parent,),
            parent=parent,
            each=spec["each"],
            where=spec.get("where"),
            aliases=spec.get("aliases", {}),
        )

    def _check_source(self, entities: dict[str, Entity]) -> None:
        source = self.data["source"]
        problems = source_problems(source)
        if not any(path == ("source", "connector") for path, _ in problems):
            for entity in entities.values():
                if entity.parent is None and entity.enabled:
                    at = (*entity.path, "extract")
                    problems += extract_problems(source["connector"], entity.extract, at)
                if entity.window is not None and entity.window.extract:
                    merged = {**entity.extract, **entity.window.extract}
                    at = (*entity.path, "window", "extract")
                    problems += extract_problems(source["connector"], merged, at)
        if not problems:
            problems = self._source_check(source["connector"], entities)
        for path, message in problems:
            self.problem(path, message)

    def _source_check(self, name: str, entities: dict[str, Entity]) -> list[tuple[KeyPath, str]]:
        """What the source refuses in the valid `extract:` blocks (a query its database cannot
        prepare), at the key's position in this file."""
        extracts = {e.name: e.extract for e in entities.values() if e.parent is None and e.enabled}
        cls = connector_class(name)
        found = cls.check_extract(self.data["source"], self.file.parent, extracts)
        known = LoopFunctions.FUNCTION_TABLE
        found += [
            (entity, at, f"unknown function {function}()")
            for entity, extract in extracts.items()
            for at, text in cls.expressions(extract)
            for function in function_names(text)
            if function not in known
        ]
        return [
            ((*entities[entity].path, "extract", *at), message) for entity, at, message in found
        ]

    def _order(self, entities: dict[str, Entity]) -> tuple[str, ...]:
        edges: dict[str, set[str]] = {}
        for entity in entities.values():
            needs = set(entity.depends_on)
            for i, dep in enumerate(entity.depends_on):
                if dep not in entities:
                    self.problem((*entity.path, "depends_on", i), unknown("entity", dep, entities))
                    needs.discard(dep)
            for ref_path, spec in lookups_in(entity.map, (*entity.path, "map")):
                ref = self._lookup_target(entity, entities, ref_path, spec)
                if ref is not None and ref != entity.name:
                    needs.add(ref)
            edges[entity.name] = needs
        for path, message in send_problems(entities.values()):
            self.problem(path, message)
        order, cycle = dependency_order(edges, {n: e.kind.name for n, e in entities.items()})
        if cycle:
            self.problem(
                entities[cycle[0]].path,
                "cycle in depends_on/lookup: " + " -> ".join([*cycle, cycle[0]]),
            )
        return order

    def _lookup_target(
        self, entity: Entity, entities: dict[str, Entity], path: KeyPath, spec: dict[str, Any]
    ) -> str | None:
        """The entity a lookup needs first, or None (its own order lines, or a problem)."""
        ref, via = str(spec["lookup"]), spec.get("via")
        if ref == ORDER_LINES and entity.kind.name == "order":
            return None  # the lines of the same order, known from Loop's answer to its PUT
        if ref not in entities:
            self.problem((*path, "lookup"), unknown("entity in lookup", ref, entities))
            return None
        if via is not None and via not in entities[ref].aliases:
            self.problem((*path, "via"), unknown(f"alias of {ref}", via, entities[ref].aliases))
        return ref

    def _return_actions(self, entities: dict[str, Entity]) -> tuple[ReturnActionSource, ...]:
        return sections.return_actions(self.data, entities, self.problem)

    def _outcomes(self, entities: dict[str, Entity]) -> tuple[Outcome, ...]:
        return sections.outcomes(self.data, entities, self.problem)

    def _platform_subscribe(self, entities: dict[str, Entity]) -> PlatformSubscribe | None:
        return sections.platform_subscribe(self.data, entities, self.problem)

    def _rules(self) -> tuple[Rule, ...]:
        rules, names = [], set()
        for i, spec in enumerate(self.data.get("rules", [])):
            path: KeyPath = ("rules", i)
            if spec["name"] in names:
                self.problem((*path, "name"), f"a second rule named {spec['name']!r}")
                continue
            names.add(spec["name"])
            actions = tuple(_rule_action(action) for action in spec["actions"])
            rules.append(
                Rule(spec["name"], tuple(spec["trigger"]), actions, path, spec.get("when"))
            )
        return tuple(rules)

    def _tests(self, entities: dict[str, Entity]) -> tuple[TestCase, ...]:
        cases = []
        for i, spec in enumerate(self.data.get("tests", [])):
            path: KeyPath = ("tests", i)
            if spec["entity"] not in entities:
                self.problem((*path, "entity"), unknown("entity", spec["entity"], entities))
                continue
            fixture_issues = fixture_problems(spec, str(self.data["source"].get("connector")))
            for at, message in fixture_issues:
                self.problem((*path, *at), message)
            if fixture_issues:
                continue
            errors = spec.get("expect_error", ())
            cases.append(
                TestCase(
                    name=spec["name"],
                    entity=spec["entity"],
                    input=spec.get("input"),
                    path=path,
                    expect=spec.get("expect"),
                    expect_error=(errors,) if isinstance(errors, str) else tuple(errors),
                    lookups={
                        k: {str(a): b for a, b in v.items()}
                        for k, v in spec.get("lookups", {}).items()
                    },
                    validate=spec.get("validate", True),
                    fixture=fixture_of(spec),
                )
            )
        return tuple(cases)

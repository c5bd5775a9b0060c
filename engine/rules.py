"""Bucket III, declared: a mapping's `rules:` applied to one Loop event, each at most once per
return and rule.

For every rule that listens to the event's trigger and whose condition holds, the firing is
claimed in the state first (so a repeated webhook, an overlapping poll or a replay never acts
twice), then its actions run in order through Loop's return actions; the first failure stops
the rule, and the firing is recorded `done` or `failed` with Loop's words. At most once, not at
least once: a crash between the claim and the actions leaves the firing `started`, visible,
rather than risking a second flag or note. When Loop cannot take an action now (retries spent,
or down), the claim is released and the error raised, so the event is tried again later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.errors import EngineError, RecordError, TransientLoadError
from engine.mapping.rules import Action, CompiledRule
from engine.net.breaker import TargetDown
from engine.state import State
from engine.state.closes import record_close
from engine.state.inbox import return_id


class ReturnActions(Protocol):
    """What a rule may do to a return in Loop (engine.loop.returns provides it)."""

    def flag(self, return_id: str) -> Any: ...

    def note(self, return_id: str, text: str) -> Any: ...

    def process(self, return_id: str, details: dict[str, str] | None = None) -> Any: ...

    def close(self, return_id: str) -> Any: ...

    def cancel(self, return_id: str) -> Any: ...


@dataclass
class Firing:
    """One rule's outcome on one event."""

    rule: str
    return_id: str
    status: str  # done | failed | skipped (fired before for this return)
    actions: list[str] = field(default_factory=list)
    reason: str | None = None


def return_id_of(event: dict[str, Any]) -> str | None:
    """The Loop return an event is about, as text (the inbox's reading of it)."""
    topic = event.get("topic")
    return return_id(topic if isinstance(topic, str) else None, event)


def apply_rules(
    rules: tuple[CompiledRule, ...], event: dict[str, Any], loop: ReturnActions, state: State
) -> list[Firing]:
    """Apply every matching rule to the event; what each did (or why it did not)."""
    return_id = return_id_of(event)
    if return_id is None:
        return []
    fired = []
    for rule in rules:
        try:
            matches = rule.matches(event)
            actions = rule.actions(event) if matches else []
        except RecordError as exc:
            fired.append(Firing(rule.name, return_id, "failed", reason=str(exc)))
            continue
        if not matches:
            continue
        if not state.claim_rule(return_id, rule.name, str(event.get("trigger"))):
            fired.append(Firing(rule.name, return_id, "skipped"))
            continue
        try:
            if any(kind == "close" for kind, _, _ in actions):
                record_close(state.path, return_id)  # before Loop's return.closed can arrive
            firing = _act(rule.name, return_id, actions, loop)
        except (TransientLoadError, TargetDown):
            # Loop could not take it now: the event is tried again later, so the rule is too.
            state.release_rule(return_id, rule.name)
            raise
        state.finish_rule(return_id, rule.name, firing.status, firing.actions, firing.reason)
        fired.append(firing)
    return fired


def _act(rule: str, return_id: str, actions: list[Action], loop: ReturnActions) -> Firing:
    firing = Firing(rule, return_id, "done")
    for kind, text, details in actions:
        try:
            if kind == "flag":
                loop.flag(return_id)
                if text:
                    loop.note(return_id, text)
            elif kind == "note":
                loop.note(return_id, text or "")
            elif kind == "process":
                loop.process(return_id, details or None)
            elif kind == "close":
                loop.close(return_id)
            else:
                loop.cancel(return_id)
        except (TransientLoadError, TargetDown):
            raise
        except EngineError as exc:
            firing.status, firing.reason = "failed", f"{kind}: {exc}"
            return firing
        firing.actions.append(kind)
    return firing

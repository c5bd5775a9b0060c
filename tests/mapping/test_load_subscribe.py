"""`platform_webhooks.subscribe`: built into the model, its topics and templates checked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.mapping.load import load_mapping
from engine.mapping.model import PlatformSubscribe, SubscriptionList

ENTITIES = """\
entities:
  products:
    extract: {path: products.json}
    map: {external_id: to_string(id), name: title}
    variants:
      each: variants
      map: {external_id: to_string(id)}
"""


def _mapping(subscribe: str) -> str:
    return ENTITIES + "platform_webhooks:\n  secret: s\n  subscribe: " + subscribe + "\n"


def test_subscribe_is_built_with_its_defaults(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(_mapping(
        '{path: /webhooks.json, body: {webhook: {topic: "{{ topic }}", address: "{{ url }}"}},'
        " topics: {products/update: products}, list: {path: /webhooks.json, records: webhooks}}"
    ))  # fmt: skip
    mapping = load_mapping(path, env={})
    assert mapping.platform_subscribe == PlatformSubscribe(
        path="/webhooks.json",
        topics={"products/update": "products"},
        body={"webhook": {"topic": "{{ topic }}", "address": "{{ url }}"}},
        method="POST",
        listing=SubscriptionList("/webhooks.json", "webhooks", "topic", "address"),
    )


def test_no_subscribe_is_none(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(ENTITIES + "platform_webhooks: {secret: s}\n")
    assert load_mapping(path, env={}).platform_subscribe is None


@pytest.mark.parametrize(
    ("subscribe", "message"),
    [
        pytest.param("{path: /w, body: {a: x}, topics: {products/update: prodcts}}",
                     "platform_webhooks.subscribe.topics.products/update: unknown top-level "
                     "entity 'prodcts' (did you mean 'products'?)", id="unknown entity"),
        pytest.param("{path: /w, body: {a: x}, topics: {variants/update: variants}}",
                     "unknown top-level entity 'variants'", id="a child entity"),
        pytest.param('{path: /w, body: {w: ["{{ topic "]}, topics: {p/u: products}}',
                     "platform_webhooks.subscribe.body.w[0]: Jinja error", id="broken template"),
        pytest.param("{path: /w, body: {a: x}, topics: {}}", "topics", id="no topics"),
        pytest.param("{path: /w, body: {a: x}, topics: {p/u: products}, list: {records: x}}",
                     "path", id="list without a path"),
    ],
)  # fmt: skip
def test_subscribe_problems_say_where(
    write_mapping: Callable[[str], Path], subscribe: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_mapping(write_mapping(_mapping(subscribe)), env={})
    assert message in "\n".join(info.value.lines())

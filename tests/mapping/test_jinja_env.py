"""The sandboxed native Jinja environment of the mapping language (engine.mapping.jinja_env)."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import TemplateAssertionError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import RecordError
from engine.mapping.filters import FILTER_NAMES
from engine.mapping.jinja_env import (
    MAX_REPEAT,
    LoopEnvironment,
    compile_template,
    make_environment,
    native_concat,
)

VARS = {"order_status": {"open": "active", "closed": "archived"}, "shop": "demo"}
ENV = make_environment("America/New_York", vars=VARS)

RECORD: dict[str, Any] = {
    "price": "19.99",
    "yen": "1200.5",
    "name": "00123",
    "digits": "123",
    "word": "True",
    "listy": "[1, 2]",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address": {"city": "London", "zip": "N1"},
    "tags": ["a", "b"],
    "status": "open",
    "created_at": "2024-03-01 10:00:00",
    "none": None,
    "qty": 3,
}


def render(source: str, data: dict[str, Any] | None = None) -> Any:
    return compile_template(ENV, source).render(RECORD if data is None else data)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("{{ price | cents }}", 1999, id="cents is an int"),
        pytest.param("{{ yen | cents('JPY') }}", 1201, id="cents with currency"),
        pytest.param("{{ name }}", "00123", id="leading zeros stay text"),
        pytest.param("{{ digits }}", "123", id="digit text stays text"),
        pytest.param("{{ word }}", "True", id="True text stays text"),
        pytest.param("{{ listy }}", "[1, 2]", id="list-looking text stays text"),
        pytest.param("{{ address }}", {"city": "London", "zip": "N1"}, id="dict as is"),
        pytest.param("{{ tags }}", ["a", "b"], id="list as is"),
        pytest.param("{{ qty }}", 3, id="int as is"),
        pytest.param("{{ none }}", None, id="null as is"),
        pytest.param("{{ 42 }}", 42, id="constant keeps its type"),
        pytest.param("{{ '00123' }}", "00123", id="constant text stays text"),
        pytest.param("{{ 1 + 2 }}", 3, id="folded constant keeps its type"),
        pytest.param("{{ qty * 2 }}", 6, id="arithmetic"),
        pytest.param("{{ first_name }} {{ last_name }}", "Ada Lovelace", id="parts joined as text"),
        pytest.param("{{ qty }}{{ qty }}", "33", id="two numbers joined as text"),
        pytest.param("#{{ digits }}", "#123", id="text and value"),
        pytest.param("plain", "plain", id="no expression"),
        pytest.param("", None, id="empty template is null"),
        pytest.param("{% if none %}x{% endif %}", None, id="no output is null"),
        pytest.param("{{ address.city }}", "London", id="attribute of a dict"),
        pytest.param("{{ tags[1] }}", "b", id="index"),
        pytest.param(
            "{{ status | enum(vars.order_status, default='unknown') }}",
            "active",
            id="enum with vars",
        ),
        pytest.param(
            "{{ 'weird' | enum(vars.order_status, default='unknown') }}",
            "unknown",
            id="enum default",
        ),
        pytest.param(
            "{{ 'OPEN' | enum(vars.order_status, ignore_case=true) }}",
            "active",
            id="enum ignore case",
        ),
        pytest.param(
            "{{ created_at | rfc3339 }}",
            "2024-03-01T15:00:00+00:00",
            id="rfc3339 in the default zone",
        ),
        pytest.param(
            "{{ created_at | rfc3339('UTC') }}", "2024-03-01T10:00:00+00:00", id="rfc3339 with zone"
        ),
        pytest.param("{{ none | cents }}", None, id="null cents is null"),
        pytest.param("{{ missing | default('x') }}", "x", id="default of undefined"),
        pytest.param("{{ none | default('x') }}", "x", id="default of null"),
        pytest.param("{{ tags | join }}", "a,b", id="mapping join replaces jinja join"),
        pytest.param("{{ 'a, b' | split }}", ["a", "b"], id="split"),
        pytest.param("{{ [none, 2] | first }}", 2, id="mapping first replaces jinja first"),
        pytest.param("{{ 2.5 | round }}", 3, id="mapping round replaces jinja round"),
        pytest.param("{{ vars.shop }}", "demo", id="vars global"),
        pytest.param("{{ tags | length }}", 2, id="jinja builtins still there"),
        pytest.param("{{ '%s-%s' | format(qty, qty) }}", "3-3", id="format filter"),
    ],
)
def test_template_renders_native(source: str, expected: Any) -> None:
    result = render(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        pytest.param(
            "{{ ''.__class__ }}",
            SecurityError,
            "access to attribute '__class__' of 'str' object is unsafe.",
            id="class of str",
        ),
        pytest.param(
            "{{ ''.__class__.__mro__ }}",
            SecurityError,
            "access to attribute '__class__' of 'str' object is unsafe.",
            id="mro",
        ),
        pytest.param(
            "{{ cycler.__init__.__globals__ }}",
            SecurityError,
            "access to attribute '__init__' of 'type' object is unsafe.",
            id="globals through cycler",
        ),
        pytest.param(
            "{{ address.__dict__ }}",
            UndefinedError,
            "'dict object' has no attribute '__dict__'",
            id="dict of a dict",
        ),
        pytest.param(
            "{{ cycler.__dict__ }}",
            SecurityError,
            "access to attribute '__dict__' of 'type' object is unsafe.",
            id="dict of a class",
        ),
        pytest.param(
            "{{ address['__class__'] }}",
            SecurityError,
            "access to attribute '__class__' of 'dict' object is unsafe.",
            id="item access to dunder",
        ),
        pytest.param(
            "{% set _ = address.update({}) %}",
            SecurityError,
            "access to attribute 'update' of 'dict' object is unsafe.",
            id="dict update",
        ),
        pytest.param(
            "{{ address.clear() }}",
            SecurityError,
            "access to attribute 'clear' of 'dict' object is unsafe.",
            id="dict clear",
        ),
        pytest.param(
            "{{ [].append(1) }}",
            SecurityError,
            "access to attribute 'append' of 'list' object is unsafe.",
            id="list append",
        ),
        pytest.param(
            "{{ tags.pop() }}",
            SecurityError,
            "access to attribute 'pop' of 'list' object is unsafe.",
            id="list pop",
        ),
        pytest.param(
            "{{ vars.order_status.clear() }}",
            SecurityError,
            "access to attribute 'clear' of 'dict' object is unsafe.",
            id="vars are read only",
        ),
        pytest.param(
            "{{ 'ab' * 1000000 }}",
            SecurityError,
            f"more than {MAX_REPEAT}",
            id="text repetition capped",
        ),
        pytest.param(
            "{{ [0] * 1000000 }}",
            SecurityError,
            f"more than {MAX_REPEAT}",
            id="list repetition capped",
        ),
        pytest.param(
            "{{ range(1000000) | list }}", OverflowError, "Range too big", id="range capped"
        ),
        pytest.param(
            "{{ missing }}", UndefinedError, "'missing' is undefined", id="undefined name"
        ),
        pytest.param(
            "{{ missing }} x", UndefinedError, "'missing' is undefined", id="undefined name in text"
        ),
        pytest.param(
            "{{ address.country }}",
            UndefinedError,
            "'dict object' has no attribute 'country'",
            id="undefined key",
        ),
        pytest.param(
            "{{ [missing] }}",
            UndefinedError,
            "'missing' is undefined",
            id="undefined inside a list",
        ),
        pytest.param(
            "{{ {'a': {'b': missing}} }}",
            UndefinedError,
            "'missing' is undefined",
            id="undefined inside a dict",
        ),
        pytest.param(
            "{{ missing | cents }}",
            UndefinedError,
            "'missing' is undefined",
            id="undefined into a filter",
        ),
        pytest.param(
            "{{ status | enum(vars.nope) }}",
            UndefinedError,
            "has no attribute 'nope'",
            id="undefined filter argument",
        ),
        pytest.param(
            "{% if missing %}x{% endif %}",
            UndefinedError,
            "'missing' is undefined",
            id="undefined in a test",
        ),
    ],
)
def test_template_refuses(source: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        render(source)
    assert message in str(caught.value)


def test_template_does_not_change_data() -> None:
    data = {"address": {"city": "London"}, "tags": ["a"]}
    for source in (
        "{% set _ = address.update({}) %}",
        "{{ address.clear() }}",
        "{{ tags.append(1) }}",
    ):
        with pytest.raises(SecurityError):
            render(source, data)
    assert data == {"address": {"city": "London"}, "tags": ["a"]}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param(
            "{{ price | cents('ZZZ') }}", "unknown currency code 'ZZZ'", id="unknown currency"
        ),
        pytest.param("{{ 'abc' | cents }}", "not an amount: 'abc'", id="garbage amount"),
        pytest.param(
            "{{ status | enum({'x': 1}) }}",
            "unmapped value 'open' (allowed: 'x')",
            id="unmapped enum",
        ),
    ],
)
def test_template_record_error_propagates(source: str, message: str) -> None:
    with pytest.raises(RecordError) as caught:
        render(source)
    assert message in str(caught.value)


def test_environment_is_sandboxed_native_and_strict() -> None:
    assert isinstance(ENV, LoopEnvironment)
    assert isinstance(ENV, ImmutableSandboxedEnvironment)
    assert ENV.autoescape is False
    assert set(FILTER_NAMES) <= set(ENV.filters)
    assert ENV.globals["vars"] == VARS
    assert make_environment().globals["vars"] == {}


def test_compile_template_caches_per_environment() -> None:
    env = make_environment()
    first = compile_template(env, "{{ price | cents }}")
    assert compile_template(env, "{{ price | cents }}") is first
    assert compile_template(make_environment(), "{{ price | cents }}") is not first


def test_compile_template_unknown_filter_lists_known_filters() -> None:
    with pytest.raises(TemplateAssertionError) as caught:
        compile_template(ENV, "{{ price | cent }}")
    assert "unknown filter 'cent' (known: cents, decimal, default, enum" in str(caught.value)
    assert caught.value.lineno == 1


def test_compile_template_syntax_error_is_jinja_error() -> None:
    with pytest.raises(TemplateSyntaxError):
        compile_template(ENV, "{{ price | }}")


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param([], None, id="nothing"),
        pytest.param(["00123"], "00123", id="one text is never parsed"),
        pytest.param([{"a": 1}], {"a": 1}, id="one value"),
        pytest.param(iter([1, "-", 2]), "1-2", id="generator of parts"),
        pytest.param([1, 2, 3], "123", id="list of parts"),
    ],
)
def test_native_concat(parts: Any, expected: Any) -> None:
    assert native_concat(parts) == expected


DOUBLING = (
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s OP ns.s %}{% endfor %}{{ ns.s | length }}"
)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("{{ x ** y }}", "'**' would build a number", id="power of values"),
        pytest.param(DOUBLING.replace("OP", "~"), "'~' would build text", id="~ doubling"),
        pytest.param(DOUBLING.replace("OP", "+"), "'+' would build more", id="+ doubling"),
        pytest.param(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "loops took more than 100000 steps",
            id="nested loops",
        ),
        pytest.param(
            "{% for i in range(90000) %}{{ 'abcdefghijklmnopqrstuvwxyz' }}{% endfor %}",
            "output is longer than 1000000",
            id="output size",
        ),
        pytest.param("{{ '{:>999999999}'.format(x) }}", "wider than 10000", id="str.format"),
        pytest.param("{{ fmt % x }}", "wider than 10000", id="percent format"),
        pytest.param("{{ fmt | format(x) }}", "wider than 10000", id="format filter"),
        pytest.param("{{ 'x'.center(y) }}", "center() wider", id="str.center"),
        pytest.param("{{ 'x' | center(y) }}", "center() wider", id="center filter"),
        pytest.param("{{ 'x'.zfill(y) }}", "zfill() wider", id="str.zfill"),
    ],
)
def test_templates_are_bounded_at_render(source: str, message: str) -> None:
    with pytest.raises(SecurityError) as caught:
        render(source, {"x": 10, "y": 10**8, "fmt": "%0999999999d"})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("{{ 10 ** (10 ** 10) }}", id="power"),
        pytest.param("{{ 'ab' * (10 ** 6) }}", id="repetition"),
        pytest.param("{{ '%0999999999d' % 1 }}", id="percent format"),
    ],
)
def test_constant_expressions_past_a_bound_fail_when_compiled(source: str) -> None:
    env = make_environment()
    with pytest.raises(TemplateAssertionError):
        compile_template(env, source)


def test_bounded_templates_still_compute_ordinary_values() -> None:
    assert render("{{ '%05d' % x }}", {"x": 42}) == "00042"
    assert render("{{ 2 ** 10 }}", {}) == 1024
    assert render("{{ a ~ '-' ~ b }}", {"a": "x", "b": 1}) == "x-1"
    assert render("{% for i in [1, 2, 3] %}{{ i }}{% endfor %}", {}) == "123"
    assert render("{{ '{:>5}'.format(x) }}", {"x": 7}) == "    7"

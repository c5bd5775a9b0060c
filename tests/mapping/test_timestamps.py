"""`rfc3339` with an explicit format (engine.mapping.timestamps), in the mapping's time zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jmespath
import pytest

from engine.errors import RecordError
from engine.mapping.compile import CompiledMapping
from engine.mapping.filters import make_filters
from engine.mapping.functions import make_options
from engine.mapping.timestamps import rfc3339, zone

NY = make_filters("America/New_York")
US = "%m/%d/%Y %I:%M %p"


@pytest.mark.parametrize(
    ("text", "layout", "expected"),
    [
        pytest.param("12/25/2024 3:04 pm", US, "2024-12-25T20:04:00+00:00", id="lower pm"),
        pytest.param("12/25/2024 3:04 PM", US, "2024-12-25T20:04:00+00:00", id="upper PM"),
        pytest.param("12/25/2024 12:00 am", US, "2024-12-25T05:00:00+00:00", id="midnight am"),
        pytest.param("07/04/2024 9:30 Am", US, "2024-07-04T13:30:00+00:00", id="summer offset"),
        pytest.param("12/25/2024", "%m/%d/%Y", "2024-12-25T05:00:00+00:00", id="date midnight"),
        pytest.param(
            "25.12.2024 10:00 +0100", "%d.%m.%Y %H:%M %z", "2024-12-25T09:00:00+00:00", id="%z"
        ),
    ],
)
def test_rfc3339_format_reads_in_the_mapping_zone(text: str, layout: str, expected: str) -> None:
    assert NY["rfc3339"](text, format=layout) == expected


def test_rfc3339_format_missing_hour_is_shifted_forward_by_the_gap() -> None:
    # 2024-03-10 02:30 does not exist in New York: read with the offset before the gap (EST),
    # 07:30 UTC, which is 03:30 EDT.
    got = NY["rfc3339"]("03/10/2024 2:30 AM", format=US)
    assert got == "2024-03-10T07:30:00+00:00"
    assert NY["rfc3339"]("03/10/2024 3:30 AM", format=US) == got


def test_rfc3339_format_ambiguous_hour_is_the_first_occurrence() -> None:
    # 2024-11-03 01:30 happens twice in New York: the first one, still EDT (-04:00).
    assert NY["rfc3339"]("11/03/2024 1:30 AM", format=US) == "2024-11-03T05:30:00+00:00"


def test_rfc3339_format_with_an_explicit_zone_overrides_the_mapping_zone() -> None:
    got = NY["rfc3339"]("12/25/2024", "Europe/Paris", format="%m/%d/%Y")
    assert got == "2024-12-24T23:00:00+00:00"
    assert rfc3339("12/25/2024", None, "%m/%d/%Y", default_zone=zone("UTC")) == (
        "2024-12-25T00:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        pytest.param("2024-12-25", "%m/%d/%Y", id="other format"),
        pytest.param("12/25/2024 13:04 pm", US, id="hour past 12 with pm"),
        pytest.param("12/25/2024", "", id="empty format"),
    ],
)
def test_rfc3339_format_mismatch_is_a_record_error(text: str, layout: str) -> None:
    with pytest.raises(RecordError) as caught:
        NY["rfc3339"](text, format=layout)
    assert repr(text) in str(caught.value) or repr(layout) in str(caught.value)


def test_rfc3339_format_jmespath_takes_it_third() -> None:
    options = make_options("America/New_York")
    found = jmespath.search(
        "rfc3339(placed, `null`, '%m/%d/%Y')", {"placed": "12/25/2024"}, options
    )
    assert found == "2024-12-25T05:00:00+00:00"


def test_rfc3339_format_in_a_mapping_planned_and_rendered(
    compiled: Callable[..., CompiledMapping],
) -> None:
    body = """\
    timezone: America/New_York
    entities:
      orders:
        extract: {path: o.json}
        map:
          created_at: "{{ placed | rfc3339(format='%m/%d/%Y %I:%M %p') }}"
          closed_at: "rfc3339(closed, `null`, '%m/%d/%Y')"
    """
    record: dict[str, Any] = {"placed": "11/03/2024 1:30 am", "closed": "03/10/2024"}
    for plan in (True, False):
        result = compiled(body, plan=plan).entities["orders"].transform(record)
        assert result.issues == [], result.issues
        assert result.payload == {
            "created_at": "2024-11-03T05:30:00+00:00",
            "closed_at": "2024-03-10T05:00:00+00:00",
        }

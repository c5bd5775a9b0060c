"""`embedded`: the environment's LOOP_* variables win over a literal `embedded` target; demos
are found by name among the installed entry points."""

from __future__ import annotations

import pytest

from engine.embedded import demo_starter, loop_target
from engine.errors import ConfigError
from engine.mapping.model import Target

URL = "https://api.loopreturns.com"
EMBEDDED = Target(base_url="embedded", api_key="sandbox", rate_limit="300/min")


@pytest.mark.parametrize(
    ("target", "env", "expected"),
    [
        pytest.param(
            EMBEDDED,
            {"LOOP_API_URL": URL, "LOOP_API_KEY": "k", "LOOP_RATE_LIMIT": "2/s"},
            (URL, "k", "2/s"),
            id="a literal embedded target takes the url, key and rate from the environment",
        ),
        pytest.param(
            EMBEDDED,
            {"LOOP_API_URL": URL},
            (URL, "sandbox", "300/min"),
            id="without key and rate variables the mapping's own are kept",
        ),
        pytest.param(
            Target(base_url="embedded:loop"),
            {"LOOP_API_URL": URL},
            (URL, "sandbox", "300/min"),
            id="embedded:NAME is embedded too",
        ),
        pytest.param(
            EMBEDDED,
            {"LOOP_API_KEY": "k", "LOOP_RATE_LIMIT": "2/s"},
            ("embedded", "sandbox", "300/min"),
            id="without LOOP_API_URL the sandbox stays, with the mapping's key",
        ),
        pytest.param(
            EMBEDDED,
            {"LOOP_API_URL": ""},
            ("embedded", "sandbox", "300/min"),
            id="an empty LOOP_API_URL is not set",
        ),
        pytest.param(
            Target(base_url="https://loop.example", api_key="mine"),
            {"LOOP_API_URL": URL, "LOOP_API_KEY": "k"},
            ("https://loop.example", "mine", "300/min"),
            id="a target the mapping names is never overridden",
        ),
    ],
)
def test_loop_target_environment_overrides_embedded(
    target: Target, env: dict[str, str], expected: tuple[str, str, str]
) -> None:
    got = loop_target(target, env)
    assert (got.base_url, got.api_key, got.rate_limit) == expected


def test_demo_starter_miss_lists_the_known_demos() -> None:
    with pytest.raises(ConfigError) as caught:
        demo_starter("sap-like")
    assert str(caught.value) == (
        "no demo platform 'sap-like' to embed (known: erp-like, oms-like, shopify-like); "
        "name one as 'embedded:NAME'"
    )

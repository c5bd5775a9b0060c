"""Pagination of the `http` connector: given one page's response, where the next page is.

Types (`source.pagination.type`):
- `none`: one request.
- `link_header`: RFC 8288 `Link: <url>; rel="next"`; the next URL carries every parameter.
- `next_url`: a JMESPath into the body gives the next URL (Loop's `next_page_url`); null ends.
- `cursor`: a JMESPath into the body gives the next cursor, sent as a query parameter.
- `page_number`: `page=1, 2, ...` until an empty or short page.
- `offset`: `offset=0, N, 2N, ...` until an empty or short page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
import jmespath
from jmespath.parser import ParsedResult

from engine.errors import ExtractError


@lru_cache(maxsize=256)
def compile_path(expression: str) -> ParsedResult:
    """A JMESPath expression compiled once per process."""
    return jmespath.compile(expression)


@dataclass(frozen=True)
class PageRequest:
    """Where to get a page: a URL (relative to base_url or absolute) and its query parameters."""

    url: str
    params: dict[str, Any]


class Paginator:
    """Computes the first request and each next one from `source.pagination`."""

    def __init__(self, cfg: Mapping[str, Any] | None, page_size: int) -> None:
        cfg = dict(cfg or {"type": "none"})
        self.kind = str(cfg.get("type", "none"))
        self.page_size = page_size
        self.size_param: str | None = cfg.get("size_param", "limit")
        default_param = {"cursor": "cursor", "page_number": "page", "offset": "offset"}
        self.param = str(cfg.get("param", default_param.get(self.kind, "")))
        self.start = int(cfg.get("start", 1 if self.kind == "page_number" else 0))
        path = cfg.get("path")
        self.path = compile_path(str(path)) if path else None

    def first(self, url: str, params: Mapping[str, Any]) -> PageRequest:
        query = dict(params)
        if self.size_param:
            query[self.size_param] = self.page_size
        if self.kind in ("page_number", "offset"):
            query[self.param] = self.start
        return PageRequest(url, query)

    def next(
        self, current: PageRequest, response: httpx.Response, body: Any, count: int
    ) -> PageRequest | None:
        """The request for the following page, or None when this one was the last."""
        if self.kind == "link_header":
            link = response.links.get("next", {}).get("url")
            return self._follow(current, response, link)
        if self.kind == "next_url":
            return self._follow(current, response, self._search(body))
        if self.kind == "cursor":
            token = self._search(body)
            if token in (None, "") or token == current.params.get(self.param):
                return None
            return PageRequest(current.url, {**current.params, self.param: token})
        if self.kind in ("page_number", "offset"):
            if count == 0 or count < self.page_size:
                return None
            step = 1 if self.kind == "page_number" else count
            position = int(current.params[self.param]) + step
            return PageRequest(current.url, {**current.params, self.param: position})
        return None

    def _search(self, body: Any) -> Any:
        return self.path.search(body) if self.path is not None else None

    def _follow(
        self, current: PageRequest, response: httpx.Response, link: object
    ) -> PageRequest | None:
        if not link:
            return None
        target = str(response.request.url.join(str(link)))
        if target == str(response.request.url):
            raise ExtractError(f"pagination loops: the next page of {current.url} is itself")
        return PageRequest(target, {})

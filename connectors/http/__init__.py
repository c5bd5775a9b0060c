"""The `http` connector: records from a JSON REST API, page by page.

One keep-alive httpx client per connector; each page is requested, its records taken with the
extract's JMESPath (compiled once) and handed on before the next page is asked for, so the whole
source is never in memory. Pagination in connectors.http.pagination; auth, request budget,
retries and redaction from the shared HTTP toolkit (engine.net), as the Loop client has them.
Schemas: schemas/connectors/http.{source,extract}.schema.json. The source filters incremental
runs: the saved
cursor goes out as a query parameter (`updated_at_min` style, often inclusive, so the records at
the cursor itself may come again: harmless, as loading is an idempotent upsert). The records are
not assumed sorted by the cursor: only the last page carries it unless `cursor.ordered: true`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from connectors.base import Connector, ExtractRequest, Page
from connectors.expressions import Expression, truthy
from connectors.http.pagination import PageRequest, Paginator
from connectors.paging import CursorTracker, cursor_config, paginate
from connectors.validate import KeyPath, connector_schema
from engine.errors import ConfigError, ExtractError
from engine.net import (
    Breaker,
    Redactor,
    RequestBudget,
    RequestFailed,
    RetryPolicy,
    Sender,
    build_auth,
    shown_url,
)

DEFAULT_PAGE_SIZE = 100
DEFAULT_OUTAGE_S = 60.0
DEFAULT_INCREMENTAL_PARAM = "{field}_min"


class HttpExtractError(ExtractError):
    """The source failed for good (after any retries); `status` is None when it never answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def retry_policy(cfg: Mapping[str, Any] | None) -> RetryPolicy:
    """The source's `retries:` block as the toolkit's policy."""
    cfg = cfg or {}
    return RetryPolicy(
        max_retries=int(cfg.get("max", 5)),
        backoff_s=float(cfg.get("backoff_s", 0.5)),
        max_backoff_s=float(cfg.get("max_backoff_s", 30.0)),
        max_retry_after_s=float(cfg.get("max_retry_after_s", 300.0)),
    )


def request_budget(rate: object) -> RequestBudget:
    """The source's own `rate_limit`: evenly spaced requests (burst 1, no margin), as many as
    it names; none (or `0/min`) is unlimited, though a 429 still pauses it."""
    return RequestBudget(str(rate) if rate else "0/s", burst=1, margin_s=0.0)


class HttpConnector(Connector):
    """Lists records from `source.base_url` + each entity's `extract.path`."""

    name: ClassVar[str] = "http"
    prefetch: ClassVar[bool] = True  # its httpx client is used by one thread at a time
    embedded_keys: ClassVar[tuple[str, ...]] = ("base_url",)
    source_schema: ClassVar[dict[str, Any]] = connector_schema("http.source")
    extract_schema: ClassVar[dict[str, Any]] = connector_schema("http.extract")

    def __init__(self, source: Mapping[str, Any], base_dir: Path) -> None:
        super().__init__(source, base_dir)
        _check_base_url(str(self.source["base_url"]))
        self.redact = Redactor()
        self.auth = build_auth(self.source.get("auth"), self.redact)
        client = httpx.Client(
            base_url=str(self.source["base_url"]),
            headers={"Accept": "application/json", **dict(self.source.get("headers") or {})},
            timeout=float(self.source.get("timeout_s", 30)),
            auth=self.auth,
        )
        self.sender = Sender(
            client,
            budget=request_budget(self.source.get("rate_limit")),
            retry=retry_policy(self.source.get("retries")),
            redact=self.redact,
            allowed_origins=self.source.get("allowed_origins") or (),
            breaker=Breaker(float(self.source.get("outage_s", DEFAULT_OUTAGE_S))),
        )

    def _extract(self, request: ExtractRequest) -> Iterator[Page]:
        cfg = request.config
        cursor = self._cursor(cfg.get("cursor"))
        page_size = int(cfg.get("page_size") or self.source.get("page_size") or DEFAULT_PAGE_SIZE)
        params = dict(cfg.get("params") or {})
        if cursor.get("field") and request.cursor is not None:
            params[str(cursor["param"])] = request.cursor
        pager = Paginator(self.source.get("pagination"), page_size)
        records = self._records(
            pager.first(str(cfg["path"]), params),
            pager,
            cfg.get("records"),
            cfg.get("include") or [],
        )
        tracker = CursorTracker(cursor.get("field"), str(cursor.get("type", "auto")))
        ordered = bool(cursor.get("ordered", False))
        total = self._count(cfg.get("count"), params)
        for page in paginate(records, page_size, tracker, ordered=ordered, limit=request.limit):
            yield page if total is None else replace(page, total=total)

    def _count_records(self, request: ExtractRequest) -> int | None:
        """The extract's `count:` endpoint, asked with the extract's params."""
        return self._count(request.config.get("count"), dict(request.config.get("params") or {}))

    def _count(self, spec: Mapping[str, Any] | None, params: dict[str, Any]) -> int | None:
        """The source's own count of what the extract will list (for a progress ETA)."""
        if not spec:
            return None
        response = self._get(str(spec["path"]), params)
        at = "count.value"
        value = Expression(str(spec.get("value", "count")), at, self.functions).search(
            self._json(response)
        )
        return (
            int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    def _cursor(self, value: object) -> dict[str, Any]:
        cursor = cursor_config(value)
        if cursor.get("field") and not cursor.get("param"):
            template = str(self.source.get("incremental_param", DEFAULT_INCREMENTAL_PARAM))
            cursor["param"] = template.replace("{field}", str(cursor["field"]))
        return cursor

    def _records(
        self,
        first: PageRequest,
        pager: Paginator,
        records: str | None,
        includes: list[dict[str, Any]] | None = None,
    ) -> Iterator[dict[str, Any]]:
        includes = includes or []
        expression = Expression(records, "records", self.functions) if records else None
        page: PageRequest | None = first
        while page is not None:
            response = self._get(page.url, page.params)
            body = self._json(response)
            found = expression.search(body) if expression is not None else body
            items = _record_list(found, records, response)
            for item in items:
                self._include(item, includes, pager.page_size)
                yield item
            page = pager.next(page, response, body, len(items))

    def _include(self, item: dict[str, Any], includes: list[dict[str, Any]], size: int) -> None:
        """Embed each `include` sub-resource of a record (e.g. a collection's collects) in it,
        when its `when` holds over the record (a request only for the records that need it)."""
        for spec in includes:
            if not self._wanted(spec, item):
                continue
            values = {
                k: quote(str(v), safe="")
                for k, v in item.items()
                if isinstance(v, str | int | float) and not isinstance(v, bool)
            }
            try:
                path = str(spec["path"]).format_map(values)
                params = {
                    k: str(v).format_map(values) for k, v in (spec.get("params") or {}).items()
                }
            except (KeyError, ValueError) as exc:
                raise HttpExtractError(
                    f"include {spec['field']!r}: the record has no {exc}"
                ) from None
            pager = Paginator(self.source.get("pagination"), size)
            item[str(spec["field"])] = list(
                self._records(pager.first(path, params), pager, spec.get("records"))
            )

    def _wanted(self, spec: Mapping[str, Any], item: dict[str, Any]) -> bool:
        """Whether an include's `when` (JMESPath over the record) holds; True without one."""
        when = spec.get("when")
        if when is None:
            return True
        at = f"include {spec['field']!r}: when"
        try:
            return truthy(Expression(str(when), at, self.functions).search(item))
        except ExtractError as exc:
            raise HttpExtractError(str(exc)) from None

    @classmethod
    def expressions(cls, extract: Mapping[str, Any]) -> list[tuple[KeyPath, str]]:
        found: list[tuple[KeyPath, Any]] = [(("records",), extract.get("records"))]
        if isinstance(extract.get("count"), Mapping):
            found.append((("count", "value"), extract["count"].get("value")))
        for i, spec in enumerate(extract.get("include") or []):
            if isinstance(spec, Mapping):
                found += [(("include", i, k), spec.get(k)) for k in ("when", "records")]
        return [(path, text) for path, text in found if isinstance(text, str)]

    def _get(self, url: str, params: Mapping[str, Any]) -> httpx.Response:
        try:
            return self.sender.get(url, params)
        except RequestFailed as failure:
            raise HttpExtractError(str(failure), failure.status) from None

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            where = shown_url(response.request.url)
            raise HttpExtractError(
                f"GET {where}: the body is not JSON", response.status_code
            ) from exc
        except RecursionError:
            where = shown_url(response.request.url)
            raise HttpExtractError(
                f"GET {where}: the JSON body is nested too deeply to read", response.status_code
            ) from None

    @property
    def requests(self) -> int:
        """Requests sent so far, every retry counted."""
        return self.sender.stats.sent

    def close(self) -> None:
        self.sender.close()

    def __repr__(self) -> str:
        return f"HttpConnector(base_url={self.source.get('base_url')!r}, auth={self.auth!r})"


def _record_list(found: Any, records: str | None, response: httpx.Response) -> list[dict[str, Any]]:
    if found is None:
        return []
    if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
        what = f"records {records!r}" if records else "the body (set extract.records)"
        raise HttpExtractError(
            f"GET {shown_url(response.request.url)}: {what} is not a list of objects",
            response.status_code,
        )
    return found


def _check_base_url(url: str) -> None:
    """An http(s) URL with a host, else a configuration error (exit 2, nothing sent)."""
    try:
        parsed = httpx.URL(url)
        ok = parsed.scheme in ("http", "https") and bool(parsed.host)
    except httpx.InvalidURL:
        ok = False
    if not ok:
        raise ConfigError(f"source.base_url {url!r} is not an http(s) URL with a host")

"""What every Commerce Data endpoint shares: errors as Loop sends them, body parsing, schema
validation as Laravel-style 422s, the record store, references, and the derived fields that
one kind's write changes on another (a product's collections, a variant's inventories).

Each stored body is what Loop returns for the record. Derived fields (a product's
`collections` and `default_variant_id`, a collection's `products`, a variant's `product` and
`inventories`) are recomputed on every write that changes them, so a stored body is never stale.
Cursor pagination and list filters live in `commerce.paging`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import duckdb
from starlette.requests import Request
from starlette.responses import Response

from engine.sandbox.core import BadBody, Sandbox, ascii_int, json_body, loop_json
from engine.sandbox.records import Row
from engine.validation import ValidationIssue, validator

INVALID = "The given data was invalid."
_REQUIRED = re.compile(r'^"(?P<name>[^"]+)" is a required property$')
Errors = dict[str, list[str]]
Body = dict[str, Any]
Handler = Callable[[Request], Awaitable[Response]]
CUSTOMER_DEFAULTS: Body = dict.fromkeys(
    ("external_id", "channel", "first_name", "last_name", "email", "phone")
) | {"tags": []}


class ApiError(Exception):
    """An answer other than success, raised from deep inside a handler; rolls the write back."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def unprocessable(errors: Errors) -> ApiError:
    return ApiError(422, {"message": INVALID, "errors": errors})


def field_error(field: str, message: str) -> ApiError:
    return unprocessable({field: [message]})


def not_found(what: str) -> ApiError:
    return ApiError(404, {"errors": {"code": "NOT_FOUND", "message": f"{what} not found."}})


def endpoint(handler: Handler) -> Handler:
    """Turns an ApiError raised by the handler into Loop's response for it."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return loop_json(request, exc.body, exc.status)

    return wrapped


async def read_payload(request: Request) -> dict[str, Any]:
    """The JSON object in the body; 400 when it is not JSON or not an object."""
    raw = await request.body()
    try:
        payload = json_body(raw)
    except BadBody as exc:
        raise ApiError(400, {"message": str(exc)}) from None
    if not isinstance(payload, dict):
        raise ApiError(400, {"message": "The request body must be a JSON object."})
    return payload


def laravel_field(issue: ValidationIssue) -> tuple[str, str]:
    """'$.line_items[0].unit_price' -> 'line_items.0.unit_price'; a missing property is
    reported on the property itself, as Laravel does ("The name field is required.")."""
    field = re.sub(r"\[(\d+)\]", r".\1", issue.path).removeprefix("$").lstrip(".")
    match = _REQUIRED.match(issue.message)
    if match:
        field = f"{field}.{match['name']}" if field else match["name"]
        return field, f"The {field} field is required."
    field = field or "body"
    if "valid under more than one of the schemas listed in the 'oneOf'" in issue.message:
        return field, f"The {field} must have exactly one of id and external_id, not both."
    if "not valid under any of the schemas listed in the 'oneOf'" in issue.message:
        return field, f"The {field} must have exactly one of id and external_id."
    return field, issue.message


def validate(
    schema: str,
    payload: dict[str, Any],
    *,
    partial: bool = False,
    optional: frozenset[str] = frozenset(),
) -> None:
    """422 naming every bad field. `partial` (updates) forgives every missing top-level field,
    `optional` the named ones (fields a version of the API does not require)."""
    errors: Errors = {}
    for issue in validator(schema).errors(payload):
        missing = _REQUIRED.match(issue.message) if issue.path == "$" else None
        if missing and (partial or missing["name"] in optional):
            continue
        field, message = laravel_field(issue)
        errors.setdefault(field, []).append(message)
    if errors:
        raise unprocessable(errors)


def as_id(value: Any) -> int | None:
    """A Loop id given as a JSON integer or a string of digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str):
        number = ascii_int(value)
        return None if number is None or value.startswith("-") else as_id(number)
    return None


def path_id(request: Request, name: str, what: str) -> int:
    found = as_id(request.path_params[name])
    if found is None:
        raise not_found(what)
    return found


class Store:
    """The commerce_records table, through one connection inside one transaction. Lookups read
    the sandbox's in-memory copy of it (engine.sandbox.records); writes go to both."""

    def __init__(self, sb: Sandbox, db: duckdb.DuckDBPyConnection) -> None:
        self.sb = sb
        self.db = db
        self.cache = sb.records

    def new_ids(self, count: int) -> list[int]:
        return self.sb.new_ids(count) if count else []

    def get(self, kind: str, loop_id: int | None) -> dict[str, Any] | None:
        if loop_id is None:
            return None
        return _parsed(self.cache.get(kind, loop_id))

    def by_external(
        self, kind: str, external_id: str, parent_id: int | None = None
    ) -> dict[str, Any] | None:
        return _parsed(self.cache.by_external(kind, str(external_id), parent_id))

    def children(self, kind: str, parent_id: int) -> list[dict[str, Any]]:
        """The records of a kind whose parent is `parent_id`, by id."""
        return [dict(json.loads(body)) for body in self.cache.children(kind, parent_id)]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Every record of a kind, by id."""
        return [dict(json.loads(body)) for body in self.cache.of_kind(kind)]

    def where(self, kind: str, condition: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        rows = self.db.execute(
            f"SELECT body FROM commerce_records WHERE kind = ? AND ({condition}) ORDER BY id",
            [kind, *params],
        ).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def put(
        self,
        kind: str,
        body: dict[str, Any],
        parent_id: int | None = None,
        key: str | None = None,
    ) -> None:
        """Insert or replace the record with body["id"]; seq keeps creation order. `key` is
        looked up like an external_id (default: the body's own external_id)."""
        external = body.get("external_id") if key is None else key
        row = Row(None if external is None else str(external), parent_id, json.dumps(body))
        # The cache knows whether the row exists: a plain UPDATE or INSERT costs DuckDB less
        # than INSERT ... ON CONFLICT DO UPDATE.
        if self.cache.exists(kind, body["id"]):
            self.db.execute(
                "UPDATE commerce_records SET external_id = ?, parent_id = ?, body = ?"
                " WHERE kind = ? AND id = ?",
                [row.external_id, parent_id, row.body, kind, body["id"]],
            )
        else:
            self.db.execute(
                "INSERT INTO commerce_records VALUES (?, ?, ?, ?, ?, ?)",
                [kind, body["id"], row.external_id, parent_id, row.body, body["id"]],
            )
        self.cache.put(kind, body["id"], row)

    def delete(self, kind: str, loop_id: int) -> None:
        self.db.execute("DELETE FROM commerce_records WHERE kind = ? AND id = ?", [kind, loop_id])
        self.cache.delete(kind, loop_id)

    def channel(self, name: str | None) -> dict[str, Any] | None:
        """{id, name} of a sales channel; an unknown name creates it, as Loop does."""
        if name is None:
            return None
        found = self.by_external("channel", name)
        if found is None:
            found = {"id": self.new_ids(1)[0], "name": name, "external_id": name}
            self.put("channel", found)
        return {"id": found["id"], "name": found["name"]}


def _parsed(body: str | None) -> dict[str, Any] | None:
    return None if body is None else dict(json.loads(body))


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def base_body(
    store: Store, kind: str, payload: Body, existing: Body | None, defaults: Body
) -> Body:
    """existing (or defaults with a new id) with the payload's fields laid over it."""
    body = dict(existing) if existing else {"id": store.new_ids(1)[0], **defaults}
    body.update({k: v for k, v in payload.items() if k != "id"})
    return body


def resolve(store: Store, kind: str, ref: Any, field_name: str, errors: Errors) -> Body | None:
    """The record a reference ({id} or {external_id}) points at; records a 422 when unknown."""
    if not isinstance(ref, dict):
        return None
    if ref.get("id") is not None:
        found = store.get(kind, as_id(ref["id"]))
        key = f"{field_name}.id"
    else:
        found = store.by_external(kind, str(ref.get("external_id")))
        key = f"{field_name}.external_id"
    if found is None:
        errors.setdefault(key, []).append(f"The selected {key} is invalid.")
    return found


def summary(body: Body, *keys: str) -> Body:
    return {k: body.get(k) for k in ("id", "external_id", *keys)}


# --- derived fields -----------------------------------------------------------------------


def collections_with(store: Store, product_id: int) -> list[Body]:
    return [
        c
        for c in store.of_kind("collection")
        if any(p.get("id") == product_id for p in c.get("products") or [])
    ]


def refresh_product(store: Store, product_id: int) -> None:
    product = store.get("product", product_id)
    if product is None:
        return
    variants = store.children("variant", product_id)
    product["collections"] = [summary(c, "name") for c in collections_with(store, product_id)]
    product["default_variant_id"] = variants[0]["id"] if variants else None
    store.put("product", product)


def refresh_collection(store: Store, collection_id: int) -> None:
    collection = store.get("collection", collection_id)
    if collection is None:
        return
    products = [store.get("product", p["id"]) for p in collection.get("products") or []]
    collection["products"] = [summary(p, "sku", "name") for p in products if p is not None]
    store.put("collection", collection)


def refresh_variant(store: Store, variant_id: int) -> None:
    variant = store.get("variant", variant_id)
    if variant is None:
        return
    product = store.get("product", variant["product"]["id"])
    if product is not None:
        variant["product"] = summary(product, "sku", "name")
    variant["inventories"] = [
        {
            "id": inv["id"],
            "available_count": inv["available_count"],
            "location": summary(inv["location"][0], "name"),
        }
        for inv in store.children("inventory", variant_id)
    ]
    store.put("variant", variant, parent_id=variant["product"]["id"])


def variant_deleted(store: Store, body: Body) -> None:
    """A variant's inventories go with it."""
    for inventory in store.children("inventory", body["id"]):
        store.delete("inventory", inventory["id"])

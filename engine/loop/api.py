"""`LoopAPI`: what the pipeline and reconcile use of a Loop client, as a typed protocol.

`LoopClient` implements it; tests and other front-ends may pass anything with these methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

from engine.net.sender import SendStats

T = TypeVar("T")
R = TypeVar("R")


@runtime_checkable
class LoopAPI(Protocol):
    """Loop's Commerce Data API for one key: writes, listings, and a thread pool to send on."""

    @property
    def stats(self) -> SendStats:
        """What was sent and what came back (requests, 429s), for the run summary."""
        ...

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        *,
        files: dict[str, Any] | None = None,
    ) -> Any:
        """One request with budget and retries; the parsed JSON of the 2xx answer (`files`: a
        multipart form instead of JSON)."""
        ...

    def upsert(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Create or update the record with the payload's external_id."""
        ...

    def upsert_child(
        self, kind: str, parent_external_id: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Create or update a child kind's record under its parent's external id."""
        ...

    def put_inventory(
        self, product_variant_id: int, location_id: int, available_count: int
    ) -> dict[str, Any]:
        """Set a variant's available count at a location (both Loop ids)."""
        ...

    def get_by_external_id(self, kind: str, external_id: str) -> dict[str, Any] | None:
        """The record with that external_id, or None when Loop has none."""
        ...

    def list_all(self, kind: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every record of a kind, page by page."""
        ...

    def list_children(self, kind: str, parent_id: int) -> Iterator[dict[str, Any]]:
        """Every record of a child kind under one parent (by its Loop id)."""
        ...

    def list_path(self, path: str, key: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every record of a Loop list endpoint, page by page."""
        ...

    def map_concurrent(
        self, fn: Callable[[T], R], items: Iterable[T]
    ) -> Iterator[tuple[T, R | Exception]]:
        """`fn` over `items` on the client's threads: each item with its result or error."""
        ...

"""Loop's Returns API over a Loop client: the Detailed Returns List (in windows and pages), return
details and notes, and the return actions, with Loop's 200-with-error answers made errors.

Loop answers most return actions with HTTP 200 whatever happened: the JSON `true` (or the string
`"true"`) means done, anything else is a refusal in one of several shapes (loop-api.md §4).
`Returns` reads every answer and raises `ReturnActionError` with Loop's message, code and status.
Arguments that Loop would refuse (a note of 255 characters or more, no line ids, an id that is
not a number) are a ConfigError before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.errors import ConfigError, EngineError, PermanentLoadError
from engine.loop.api import LoopAPI
from engine.loop.errors import loop_error_text
from engine.loop.windows import LOOP_TIME, windows, with_params

__all__ = [
    "STATES",
    "ActionResult",
    "Note",
    "ReturnActionError",
    "ReturnRecord",
    "Returns",
    "check_note",
    "digits",
    "loop_failure",
    "normalise_state",
    "windows",
]

LIST_PATH = "/warehouse/return/list"
DETAILS_PATH = "/warehouse/return/details"
STATES = ("open", "closed", "cancelled", "expired", "review")
FILTERS = ("created_at", "updated_at")
PAGE_SIZE = 250  # Loop's default is 100 and its maximum 750
PAGE_MAX = 750
NOTE_MAX = 255  # a note must be *under* 255 characters
QUEUED = (
    "Loop processes returns asynchronously: this only means queued, and a "
    "return.processing.failed event would report a later failure"
)
_DONE = {
    "process": "queued for processing",
    "remove": "line items removed; processing queued",
    "flag": "flagged for review",
    "cancel": "cancelled",
    "close": "closed",
    "note": "note added",
}


class ReturnActionError(EngineError):
    """Loop did not do what was asked of a return (or of the returns list): Loop's message, its
    code when it gave one, and the HTTP status (200 for the documented 200-with-error answers)."""

    def __init__(
        self,
        action: str,
        return_id: str | None,
        message: str,
        code: str | None = None,
        status: int | None = None,
        body: object = None,
    ) -> None:
        self.action, self.return_id = action, return_id
        self.message, self.code, self.status, self.body = message, code, status, body
        what = f"{action} return {return_id}" if return_id else f"{action} returns"
        said = ", ".join(p for p in (code and f"code {code}", status and f"HTTP {status}") if p)
        super().__init__(f"{what}: Loop said: {message}" + (f" ({said})" if said else ""))


@dataclass(frozen=True)
class ReturnRecord:
    """One return as Loop gave it (`data`, its `state` normalised); `id` as text, since Loop
    sends ids as strings or as integers."""

    id: str
    state: str | None
    data: dict[str, Any]

    @classmethod
    def from_loop(cls, item: Mapping[str, Any]) -> ReturnRecord:
        data = dict(item)
        if "state" in data:
            data["state"] = normalise_state(data["state"])
        state = data.get("state")
        return cls(str(data.get("id", "")), state if isinstance(state, str) else None, data)

    def get(self, key: str) -> Any:
        return self.data.get(key)


@dataclass(frozen=True)
class Note:
    """A note on a return's timeline."""

    id: str
    content: str
    created_at: str | None


@dataclass(frozen=True)
class ActionResult:
    """What a successful action did. `queued`: Loop only queued the work (process, remove)."""

    action: str
    return_id: str
    queued: bool = False

    @property
    def summary(self) -> str:
        text = f"return {self.return_id}: {_DONE.get(self.action, self.action)}"
        return f"{text}. {QUEUED}" if self.queued else text


def normalise_state(value: Any) -> Any:
    """The flagged state is spelled `review` or `needs review`: always `review`."""
    if isinstance(value, str) and value.strip().lower().replace("_", " ") in (
        "review",
        "needs review",
    ):
        return "review"
    return value


def is_success(body: Any) -> bool:
    """Only the JSON `true` or the string "true" means an action was done."""
    return body is True or (isinstance(body, str) and body.strip() == "true")


def loop_failure(body: Any, status: int = 200) -> tuple[str, str | None]:
    """Loop's message and code from any refusal it sends: `{errors: {message, code}}`,
    `{error: {message, code}}`, `{message}`, `{content}`, Laravel field errors, `"false"`."""
    if isinstance(body, dict):
        code = _code(body)
        for key in ("errors", "error"):
            inner = body.get(key)
            if isinstance(inner, dict) and isinstance(inner.get("message"), str):
                return inner["message"], code
        for key in ("message", "content"):
            if isinstance(body.get(key), str) and not isinstance(body.get("errors"), dict):
                return body[key], code
        return loop_error_text(body, status), code
    if body is False or (isinstance(body, str) and body.strip() == "false"):
        return "false (the action was not done)", None
    if body is None or body == "":
        return "an empty answer", None
    return loop_error_text(body, status), None


def _code(body: dict[str, Any]) -> str | None:
    for inner in (body.get("errors"), body.get("error"), body):
        if isinstance(inner, dict):
            code = inner.get("code") or inner.get("http_code")
            if isinstance(code, str | int) and not isinstance(code, bool):
                return str(code)
    return None


def digits(value: int | str, what: str = "a return id") -> str:
    """An id as Loop's paths take it: digits, from an int or a string."""
    text = str(value).strip() if isinstance(value, int | str) else ""
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise ConfigError(f"{what} is a whole number, not {value!r}")
    return text


def check_note(text: str) -> str:
    """A note Loop accepts: not empty, under 255 characters."""
    if not text.strip():
        raise ConfigError("a note needs some text")
    if len(text) >= NOTE_MAX:
        raise ConfigError(
            f"a note must be under {NOTE_MAX} characters (this one has {len(text)}): "
            "Loop refuses longer ones"
        )
    return text


class Returns:
    """Loop's Returns API for one Loop client (its budget, retries and key)."""

    def __init__(self, loop: LoopAPI) -> None:
        self.loop = loop

    # --- reading ---------------------------------------------------------------------------

    def list_returns(
        self,
        since: datetime,
        until: datetime | None = None,
        state: str | None = None,
        filter: str = "updated_at",
        page_size: int = PAGE_SIZE,
    ) -> Iterator[ReturnRecord]:
        """Every return whose `filter` time is in since..until (default: now), oldest window
        first: the range split into windows under 120 days, each read page by page."""
        if filter not in FILTERS:
            raise ConfigError(f"filter is one of {', '.join(FILTERS)}, not {filter!r}")
        if state is not None and normalise_state(state) not in STATES:
            raise ConfigError(f"state is one of {', '.join(STATES)}, not {state!r}")
        if not 1 <= page_size <= PAGE_MAX:
            raise ConfigError(f"page_size is between 1 and {PAGE_MAX}, not {page_size}")
        spans = windows(since, until or datetime.now(UTC))  # checked now, not when iterated
        base = {"filter": filter, "paginate": "true", "pageSize": str(page_size)}
        if state is not None:
            base["state"] = str(normalise_state(state))
        return self._windows(spans, base)

    def _windows(
        self, spans: list[tuple[datetime, datetime]], base: dict[str, str]
    ) -> Iterator[ReturnRecord]:
        for start, stop in spans:
            yield from self._pages(
                {**base, "from": f"{start:{LOOP_TIME}}", "to": f"{stop:{LOOP_TIME}}"}
            )

    def _pages(self, params: dict[str, str]) -> Iterator[ReturnRecord]:
        body = self._send("list", None, "GET", LIST_PATH, params=params)
        followed: set[str] = set()
        while True:
            if isinstance(body, list):  # Loop ignored paginate: the bare array is everything
                yield from (ReturnRecord.from_loop(item) for item in body)
                return
            if not isinstance(body, dict) or not isinstance(body.get("returns"), list):
                message, code = loop_failure(body)
                raise ReturnActionError("list", None, message, code, 200, body)
            yield from (ReturnRecord.from_loop(item) for item in body["returns"])
            next_url = body.get("nextPageUrl") or body.get("next_page_url")
            if not next_url:
                return
            if str(next_url) in followed:
                raise ReturnActionError("list", None, f"the next page repeats: {next_url}")
            followed.add(str(next_url))
            body = self._send("list", None, "GET", with_params(str(next_url), params))

    def details(self, return_id: int | str) -> ReturnRecord:
        """Get Return Details (the list item plus refunds, exchange order, line extras)."""
        rid = digits(return_id)
        body = self._send("show", rid, "GET", DETAILS_PATH, params={"return_id": rid})
        if isinstance(body, dict) and isinstance(body.get("return"), dict) and "id" not in body:
            body = body["return"]
        if not isinstance(body, dict) or "id" not in body:
            message, code = loop_failure(body)
            raise ReturnActionError("show", rid, message, code, 200, body)
        return ReturnRecord.from_loop(body)

    def find(
        self, *, order_id: str | None = None, order_name: str | None = None
    ) -> ReturnRecord | None:
        """The newest return of an order (by its Loop order id, else its name); None when the
        order has none."""
        params = {"order_id": digits(order_id)} if order_id else {"order_name": str(order_name)}
        try:
            body = self._send("show", None, "GET", DETAILS_PATH, params=params)
        except ReturnActionError as exc:
            if exc.status == 404:
                return None
            raise
        if isinstance(body, dict) and isinstance(body.get("return"), dict) and "id" not in body:
            body = body["return"]
        return ReturnRecord.from_loop(body) if isinstance(body, dict) and "id" in body else None

    def notes(self, return_id: int | str) -> list[Note]:
        """The return's notes, oldest first; none is an empty list (Loop: 422 "false")."""
        rid = digits(return_id)
        try:
            body = self._send("notes", rid, "GET", f"/warehouse/return/{rid}/notes")
        except ReturnActionError as exc:
            if exc.status == 422 and _is_false(exc.body):
                return []
            raise
        if _is_false(body):
            return []
        items = body.get("notes") if isinstance(body, dict) else body
        if not isinstance(items, list):
            message, code = loop_failure(body)
            raise ReturnActionError("notes", rid, message, code, 200, body)
        return [_note(item) for item in items if isinstance(item, dict)]

    # --- actions ---------------------------------------------------------------------------

    def process(
        self, return_id: int | str, details: Mapping[str, Any] | None = None
    ) -> ActionResult:
        """Queue the return for processing; `details` become the platform orders' additional
        details. Only queued: a return.processing.failed event reports a later failure."""
        if details is not None and not isinstance(details, Mapping):
            raise ConfigError("the details of process are key/value pairs")
        body = dict(details) if details else None
        return self._act("process", return_id, "process", json=body, queued=True)

    def flag(self, return_id: int | str) -> ActionResult:
        """Move the return to review: automatic processing stops until a person acts."""
        return self._act("flag", return_id, "flag")

    def cancel(self, return_id: int | str) -> ActionResult:
        return self._act("cancel", return_id, "cancel")

    def close(self, return_id: int | str) -> ActionResult:
        """Close without fulfilling any outcome."""
        return self._act("close", return_id, "close")

    def note(self, return_id: int | str, text: str) -> ActionResult:
        return self._act("note", return_id, "note", json={"content": check_note(text)})

    def remove(self, return_id: int | str, line_ids: Sequence[int | str]) -> ActionResult:
        """Remove line items (refund or store-credit ones) and process the return (queued)."""
        ids = [digits(value, "a line item id") for value in line_ids]
        if not ids:
            raise ConfigError("remove needs at least one line item id")
        params = {"line_item_id": ",".join(dict.fromkeys(ids))}
        return self._act("remove", return_id, "remove", params=params, queued=True)

    def _act(
        self,
        action: str,
        return_id: int | str,
        suffix: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        queued: bool = False,
    ) -> ActionResult:
        rid = digits(return_id)
        path = f"/warehouse/return/{rid}/{suffix}"
        body = self._send(action, rid, "POST", path, json=json, params=params)
        if not is_success(body):
            message, code = loop_failure(body)
            raise ReturnActionError(action, rid, message, code, 200, body)
        return ActionResult(action, rid, queued)

    def _send(
        self,
        action: str,
        rid: str | None,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The parsed answer; a refusal (4xx) as a ReturnActionError with Loop's words. Errors
        worth retrying later (429 / 5xx / no answer) and a refused key pass unchanged."""
        try:
            return self.loop.request(method, path, json=json, params=params)
        except PermanentLoadError as exc:
            status = exc.status
            body = exc.body
            message, code = (
                (str(exc), None) if body in (None, "") else loop_failure(body, status or 400)
            )
            raise ReturnActionError(action, rid, message, code, status, body) from None


def _is_false(body: Any) -> bool:
    return body is False or (isinstance(body, str) and body.strip() == "false")


def _note(item: dict[str, Any]) -> Note:
    created = item.get("created_at")
    return Note(str(item.get("id", "")), str(item.get("content", "")), created and str(created))

"""The one exception tree of the engine, split by how the caller reacts.

    EngineError
    ├── ConfigError          mapping or settings wrong: exit 2, nothing runs
    ├── ExtractError         the source failed
    ├── RecordError          one record is bad: quarantined, the run goes on
    ├── LoadError
    │   ├── TransientLoadError   429 / 5xx / timeout: back off and retry
    │   └── PermanentLoadError   other 4xx: quarantine with Loop's reason
    └── StateError

Only the CLI turns an EngineError into a message and an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found in a file: where it is and what is wrong."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""

    exit_code = 1


class ConfigError(EngineError):
    """The mapping or the settings are wrong; nothing runs. Carries every problem found."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems: list[Problem] = list(problems or [])

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems] or [str(self)]


class ExtractError(EngineError):
    """The source platform failed."""


class RecordError(EngineError):
    """One record is bad; it is quarantined with its reasons and the run goes on."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class LoadError(EngineError):
    """Pushing into Loop failed."""

    def __init__(self, message: str, status: int | None = None, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class TransientLoadError(LoadError):
    """429 / 5xx / timeout: back off and retry."""


class PermanentLoadError(LoadError):
    """Any other 4xx: the record goes to quarantine with Loop's own error text."""


class StateError(EngineError):
    """The state database is missing, locked or inconsistent."""

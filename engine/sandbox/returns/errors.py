"""The error of the returns admin: a return that cannot be created as asked."""

from __future__ import annotations


class ReturnSpecError(ValueError):
    """A return the admin API was asked to create is not possible; carries field errors."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors

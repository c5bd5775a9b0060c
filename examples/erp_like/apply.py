"""The demo ERP's import run: apply the files waiting in imports/, once each, then re-export.

Files are taken in name order; a file is applied whole or not at all. An applied file moves to
imports/applied/ and its documents go in the journal (journal.py), so the next export shows
them and a document number already applied (a file written twice) is skipped, not doubled.
Only names ending in `.csv` are read: a writer writes `*.tmp` and renames it when complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.common import naive_local
from examples.erp_like.checks import ErpState, check_file
from examples.erp_like.formats import FORMATS, format_of
from examples.erp_like.generate import generate_erp_csv
from examples.erp_like.journal import (
    IMPORTS,
    append_journal,
    applied_dir,
    as_documents,
    entry,
    read_journal,
    read_settings,
)


@dataclass
class ApplyReport:
    """What an import run did: files applied, documents skipped as repeats, and errors."""

    applied: list[str] = field(default_factory=list)  # file names, in the order applied
    documents: int = 0  # new documents applied
    skipped: list[str] = field(default_factory=list)  # "file:line: CM_NO X already applied"
    errors: list[str] = field(default_factory=list)  # "file:line: reason"; those files stay

    @property
    def ok(self) -> bool:
        return not self.errors


def pending_files(folder: Path) -> list[Path]:
    """The complete import files not yet applied, in name order."""
    imports = folder / IMPORTS
    if not imports.is_dir():
        return []
    return sorted(p for p in imports.iterdir() if p.is_file() and p.name.endswith(".csv"))


def _move_applied(path: Path) -> None:
    """Into imports/applied/, beside any earlier file of the same name."""
    target, n = applied_dir(path.parent.parent) / path.name, 1
    while target.exists():
        n += 1
        target = target.with_name(f"{path.stem}.{n}{path.suffix}")
    path.replace(target)


def _apply_file(
    path: Path, encoding: str, state: ErpState, stamp: str, report: ApplyReport
) -> list[dict[str, Any]] | None:
    """The journal entries of a file that passes its checks (None when it does not)."""
    fmt = format_of(path.name)
    if fmt is None:
        names = ", ".join(f.pattern for f in FORMATS)
        report.errors.append(f"{path.name}:1: not an import file name (expected {names})")
        return None
    check = check_file(path, fmt, encoding, state)
    if check.errors:
        report.errors += [f"{path.name}:{line}: {reason}" for line, reason in check.errors]
        return None
    report.skipped += [
        f"{path.name}:{line}: {fmt.number} {number} already applied, skipped"
        for line, number in check.duplicates
    ]
    for doc in check.documents:
        state.commit(doc)
    report.documents += len(check.documents)
    return [entry(doc, path.name, stamp) for doc in check.documents]


def apply_imports(folder: str | Path, now: float | None = None) -> ApplyReport:
    """Applies every import file waiting in `<folder>/imports/` and regenerates the exports.

    `folder` is one the erp-like generator wrote. Changed records get MODIFIED = `now` (epoch
    seconds, default the clock) in the ERP's local time, so an incremental export sees them.
    """
    out, report = Path(folder), ApplyReport()
    files = pending_files(out)
    if not files:
        return report
    settings, journal = read_settings(out), read_journal(out)
    state = ErpState.load(out, settings["encoding"], as_documents(journal))
    stamp = naive_local(int(time.time() if now is None else now))
    entries, consumed = [], []
    for path in files:
        found = _apply_file(path, settings["encoding"], state, stamp, report)
        if found is not None:
            entries += found
            consumed.append(path)
    if consumed:
        # journal first, exports next, files last: a crash between steps is mended by the next
        # run, which meets the same files, skips their documents as applied, and re-exports
        append_journal(out, entries)
        generate_erp_csv(out, settings["orders"], settings["seed"], settings["encoding"],
                         keep_receipts=True)  # fmt: skip
        for path in consumed:
            _move_applied(path)
            report.applied.append(path.name)
    return report


def watch_imports(
    folder: str | Path,
    interval: float = 2.0,
    stop: Callable[[], bool] = lambda: False,
    on_report: Callable[[ApplyReport], None] = lambda _: None,
) -> None:
    """Applies imports every `interval` seconds until `stop()` is true, as an ERP's import job
    does; files with errors stay and are reported once, until they change."""
    reported: dict[str, float] = {}
    while not stop():
        report = apply_imports(folder)
        fresh = [e for e in report.errors if _once(Path(folder), e, reported)]
        if report.applied or report.skipped or fresh:
            on_report(ApplyReport(report.applied, report.documents, report.skipped, fresh))
        time.sleep(interval)


def _once(folder: Path, error: str, reported: dict[str, float]) -> bool:
    name = error.split(":", 1)[0]
    path = folder / IMPORTS / name
    stamp = path.stat().st_mtime if path.exists() else 0.0
    key = f"{error}@{stamp}"
    if key in reported:
        return False
    reported[key] = stamp
    return True

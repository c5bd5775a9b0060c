"""A generated NetSuite-shaped saved-search export for tests/bench/bench_files.py: order lines
as rows (header fields repeated), fulfillments and credit memos (lines as rows) in other files
pointing at their order by document number."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

LINE_LABELS = ["Internal ID", "Document Number", "Date", "Status", "Customer", "Email",
               "Ship To", "Currency", "Memo", "Line", "Item", "Description", "Quantity",
               "Rate", "Amount", "Last Modified"]  # fmt: skip
FULFILLMENT_LABELS = ["Internal ID", "Document Number", "Date", "Created From", "Status",
                      "Carrier", "Tracking Number"]  # fmt: skip
MEMO_LABELS = ["Internal ID", "Document Number", "Date", "Created From", "Line", "Item",
               "Quantity", "Amount"]  # fmt: skip
ITEMS = [(f"SKU-{n:04d}", f"Item {n}", f"{5 + n % 90}.{n % 100:02d}") for n in range(400)]
CARRIERS = ["UPS", "FedEx", "DHL", "USPS"]


@dataclass(frozen=True)
class Export:
    """Where the files are and what they hold."""

    folder: Path
    lines: int
    orders: int
    fulfillments: int
    memo_rows: int


def _order_rows(n: int, lines: int, rng: random.Random) -> list[list[str]]:
    doc, day = f"SO{100000 + n}", f"{1 + n % 12:02d}/{1 + n % 28:02d}/2024"
    header = [str(500000 + n), doc, day, rng.choice(["Pending Fulfillment", "Billed"]),
              f"Customer {n % 9000}", f"c{n % 9000}@example.com", f"{n} Main St",
              "USD", "gift" if n % 17 == 0 else ""]  # fmt: skip
    rows = []
    for line in range(1, lines + 1):
        sku, name, rate = rng.choice(ITEMS)
        qty = rng.randint(1, 4)
        amount = f"{float(rate) * qty:.2f}"
        modified = f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}T{line:02d}:00:00Z"
        rows.append([*header, str(line), sku, name, str(qty), rate, amount, modified])
    return rows


def _fulfillments(n: int, rng: random.Random, seq: list[int]) -> list[list[str]]:
    rows = []
    for _ in range(rng.choice([0, 1, 1, 1, 1, 1, 1, 1, 2, 2])):
        seq[0] += 1
        tracking = "" if seq[0] % 11 == 0 else f"1Z{seq[0]:010d}"
        rows.append([str(700000 + seq[0]), f"IF{200000 + seq[0]}", "12/30/2024",
                     f"SO{100000 + n}", "Shipped", rng.choice(CARRIERS), tracking])  # fmt: skip
    return rows


def _memos(n: int, rng: random.Random, seq: list[int]) -> list[list[str]]:
    rows = []
    for _ in range(1 if rng.random() < 0.12 else 0):
        seq[1] += 1
        for line in range(1, rng.randint(1, 3) + 1):
            sku, _, rate = rng.choice(ITEMS)
            rows.append([str(900000 + seq[1]), f"CM{300000 + seq[1]}", "12/31/2024",
                         f"SO{100000 + n}", str(line), sku, "1", rate])  # fmt: skip
    return rows


def _write(path: Path, labels: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(labels)
        writer.writerows(rows)


def write_export(folder: Path, lines: int, seed: int = 1) -> Export:
    """order_lines.csv (`lines` rows, 1-6 lines an order, each order's lines consecutive, in
    line order), fulfillments.csv (0-2 an order) and credit_memos.csv (12 % of orders, 1-3
    lines each), written into `folder`."""
    rng = random.Random(seed)
    order_rows: list[list[str]] = []
    fulfillments: list[list[str]] = []
    memos: list[list[str]] = []
    seq, n = [0, 0], 0
    while len(order_rows) < lines:
        count = min(rng.randint(1, 6), lines - len(order_rows))
        order_rows += _order_rows(n, count, rng)
        fulfillments += _fulfillments(n, rng, seq)
        memos += _memos(n, rng, seq)
        n += 1
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "order_lines.csv", LINE_LABELS, order_rows)
    _write(folder / "fulfillments.csv", FULFILLMENT_LABELS, fulfillments)
    _write(folder / "credit_memos.csv", MEMO_LABELS, memos)
    return Export(folder, len(order_rows), n, len(fulfillments), len(memos))

"""netsuite-like: a NetSuite saved-search CSV export generated with deterministic random data,
the fixture platform of test_netsuite_like (issue 11), and the data it was generated from.

The files are what a NetSuite account exports: labels with spaces and repeats ("Internal ID",
"Document Number", "Memo", "Memo"), amounts like "1,299.00", quantities like "1,204", times like
"12/25/2024 3:04 pm" in the account's zone (Pacific, with daylight saving), blank cells.

- locations.csv, customers.csv: one row each.
- items.csv: matrix items, a "Parent Matrix Item" row then its "Child Matrix Item" rows naming
  it in "Parent"; inventory items stand alone (no parent, no children).
- inventory.csv: one row per sellable item and location; a blank "On Hand" is none.
- order_lines.csv: one row per sales order line, the order's header fields repeated on each.
- fulfillments.csv: one row per fulfilled line; "Created From" is "Sales Order #SO1001".
- credit_memos.csv: one row per credited line (a blank "Order Line" is refunded shipping),
  pointing at the order in "Created From" too.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

ZONE = "America/Los_Angeles"
FORMAT = "%m/%d/%Y %I:%M %p"  # how Python and the mapping read "12/25/2024 3:04 pm"
AMBIGUOUS = datetime(2024, 11, 3, 1, 30)  # clocks went back at 2:00: 1:30 happened twice
MISSING = datetime(2024, 3, 10, 2, 30)  # clocks went forward at 2:00: 2:30 never happened
SIZES = ("XS", "S", "M", "L", "XL")
CENT = Decimal("0.01")


def ns_time(value: datetime) -> str:
    """NetSuite's "12/25/2024 3:04 pm": no leading zeros, lower-case am/pm."""
    hour = value.hour % 12 or 12
    half = "am" if value.hour < 12 else "pm"
    return f"{value.month}/{value.day}/{value.year} {hour}:{value.minute:02d} {half}"


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


@dataclass
class Location:
    internal_id: str
    name: str
    address1: str
    address2: str  # often blank
    city: str
    state: str
    zip: str


@dataclass
class Customer:
    internal_id: str
    entity_id: str
    first_name: str
    last_name: str
    email: str
    phone: str  # blank for some


@dataclass
class Item:
    internal_id: str
    name: str
    display_name: str
    parent: str  # the parent's name; blank for a parent or a standalone item
    matrix_type: str  # "Parent Matrix Item", "Child Matrix Item" or blank
    size: str
    price: Decimal
    upc: str  # blank for some


@dataclass
class Line:
    line_id: int
    item: Item
    quantity: int
    rate: Decimal
    tax: Decimal
    memo: str

    @property
    def amount(self) -> Decimal:
        return self.rate * self.quantity


@dataclass
class Order:
    internal_id: str
    number: str
    created: datetime  # the account's local time
    status: str
    customer: Customer
    memo: str
    shipping: Decimal
    lines: list[Line]

    @property
    def total(self) -> Decimal:
        return sum((ln.amount + ln.tax for ln in self.lines), self.shipping)


@dataclass
class Shipped:
    order_line: int
    item: Item
    quantity: int


@dataclass
class Fulfillment:
    internal_id: str
    number: str
    date: datetime
    order: Order
    location: Location
    carrier: str
    tracking: str  # blank for some
    lines: list[Shipped]


@dataclass
class Credited:
    order_line: int | None  # None: the order's shipping
    item: str
    quantity: int
    amount: Decimal


@dataclass
class CreditMemo:
    internal_id: str
    number: str
    date: datetime
    order: Order
    lines: list[Credited]


@dataclass
class NetSuite:
    """Everything the export holds, as Python values (what the tests expect Loop to hold)."""

    locations: list[Location] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    on_hand: dict[tuple[str, str], int] = field(default_factory=dict)  # (item, location) -> qty
    orders: list[Order] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)
    credit_memos: list[CreditMemo] = field(default_factory=list)

    def sellable(self) -> list[Item]:
        """Items an order line can name: children and standalone items."""
        return [i for i in self.items if i.matrix_type != "Parent Matrix Item"]

    def write(self, folder: Path) -> None:
        """Write every export file into `folder` (the same data gives the same bytes)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, (header, rows) in exports(self).items():
            with (folder / name).open("w", newline="", encoding="utf-8") as f:
                out = csv.writer(f, lineterminator="\r\n")
                out.writerow(header)
                out.writerows(rows)


Rows = list[list[str]]


def exports(ns: NetSuite) -> dict[str, tuple[list[str], Rows]]:
    """File name -> (header, rows), as the saved searches export them."""
    return {
        "locations.csv": (
            ["Internal ID", "Name", "Address 1", "Address 2", "City", "State/Province", "Zip"],
            [[x.internal_id, x.name, x.address1, x.address2, x.city, x.state, x.zip]
             for x in ns.locations],
        ),
        "customers.csv": (
            ["Internal ID", "ID", "First Name", "Last Name", "Email", "Phone"],
            [[c.internal_id, c.entity_id, c.first_name, c.last_name, c.email, c.phone]
             for c in ns.customers],
        ),
        "items.csv": (
            ["Internal ID", "Name", "Display Name", "Matrix Type", "Parent", "Size", "Base Price",
             "UPC Code"],
            [[i.internal_id, i.name, i.display_name, i.matrix_type, i.parent, i.size,
              money(i.price), i.upc] for i in ns.items],
        ),
        "inventory.csv": (
            ["Item", "Location", "On Hand"],
            [[item, where, f"{n:,}" if n else ""] for (item, where), n in ns.on_hand.items()],
        ),
        "order_lines.csv": (
            ["Internal ID", "Document Number", "Date", "Status", "Customer : Internal ID",
             "Currency", "Memo", "Line ID", "Item", "Item : Parent", "Quantity", "Item Rate",
             "Amount", "Tax Amount", "Memo", "Shipping Cost", "Total"],
            [[o.internal_id, o.number, ns_time(o.created), o.status, o.customer.internal_id,
              "USD", o.memo, str(ln.line_id), ln.item.name, ln.item.parent, f"{ln.quantity:,}",
              money(ln.rate), money(ln.amount), money(ln.tax), ln.memo, money(o.shipping),
              money(o.total)] for o in ns.orders for ln in o.lines],
        ),
        "fulfillments.csv": (
            ["Internal ID", "Document Number", "Date", "Created From", "Status", "Location",
             "Shipping Carrier", "Tracking Numbers", "Order Line", "Item", "Quantity"],
            [[f.internal_id, f.number, ns_time(f.date), f"Sales Order #{f.order.number}",
              "Shipped", f.location.name, f.carrier, f.tracking, str(s.order_line), s.item.name,
              str(s.quantity)] for f in ns.fulfillments for s in f.lines],
        ),
        "credit_memos.csv": (
            ["Internal ID", "Document Number", "Date", "Created From", "Order Line", "Item",
             "Quantity", "Amount"],
            [[m.internal_id, m.number, ns_time(m.date), f"Sales Order #{m.order.number}",
              "" if c.order_line is None else str(c.order_line), c.item, str(c.quantity),
              money(c.amount)] for m in ns.credit_memos for c in m.lines],
        ),
    }  # fmt: skip


# -- generation ------------------------------------------------------------------------------

FIRST = ("Ana", "Bo", "Chloé", "Dev", "Emi", "Farah", "Gus", "Hana", "Ivo", "Jun")
LAST = ("Silva", "Okafor", "Müller", "Nguyen", "Rossi", "Kim", "Haddad", "Berg")
GOODS = ("Trail Tee", "Canvas Tote", "Wool Beanie", "Rain Shell", "Camp Mug", "Field Socks",
         "Linen Shirt", "Desk Lamp")  # fmt: skip
CITIES = (("Reno", "NV", "89501"), ("Fresno", "CA", "93650"), ("Eugene", "OR", "97401"))


def generate(seed: int = 11, orders: int = 30) -> NetSuite:
    """A deterministic account: 3 locations, 12 customers, 8 items (5 matrix with 2-4 sizes),
    stock, `orders` sales orders (the first two at the daylight-saving edges), about two in
    three fulfilled (some in two shipments), one in four credited."""
    rnd = random.Random(seed)
    ns = NetSuite()
    ns.locations = [_location(rnd, n) for n in range(3)]
    ns.customers = [_customer(rnd, n) for n in range(12)]
    for n, good in enumerate(GOODS):
        ns.items += _items(rnd, n, good, matrix=n < 5)
    for item in ns.sellable():
        for where in ns.locations:
            ns.on_hand[(item.name, where.name)] = rnd.choice((0, rnd.randint(1, 60),
                                                              rnd.randint(1000, 2500)))  # fmt: skip
    for n in range(orders):
        order = _order(rnd, ns, n)
        ns.orders.append(order)
        if order.status != "Pending Fulfillment" and order.status != "Cancelled":
            ns.fulfillments += _fulfillments(rnd, ns, order, n)
        if n % 4 == 2:
            ns.credit_memos.append(_credit_memo(rnd, order, n))
    return ns


def _location(rnd: random.Random, n: int) -> Location:
    city, state, zip_code = CITIES[n]
    street2 = "" if n != 1 else "Dock 4"
    return Location(str(100 + n), f"{city} DC", f"{rnd.randint(10, 999)} Main Street", street2,
                    city, state, zip_code)  # fmt: skip


def _customer(rnd: random.Random, n: int) -> Customer:
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    phone = "" if n % 3 == 1 else f"+1 775 555 {rnd.randint(1000, 9999)}"
    email = f"{first.lower().replace('é', 'e')}.{last.lower().replace('ü', 'u')}{n}@example.com"
    return Customer(str(2000 + n), f"CUST-{n:04d}", first, last, email, phone)


def _items(rnd: random.Random, n: int, good: str, *, matrix: bool) -> list[Item]:
    code = f"NS-{n + 1:03d}"
    price = Decimal(rnd.randint(900, 160000)) / 100
    upc = f"0{rnd.randint(10**10, 10**11 - 1)}"
    if not matrix:
        return [Item(str(500 + 10 * n), code, good, "", "", "", price, upc if n % 2 else "")]
    sizes = SIZES[: rnd.randint(2, 4)]
    parent = Item(str(500 + 10 * n), code, good, "", "Parent Matrix Item", "", price, "")
    children = [
        Item(str(501 + 10 * n + k), f"{code}-{size}", f"{good} - {size}", code,
             "Child Matrix Item", size, price + k * 2, "" if k == 1 else f"{upc}{k}")
        for k, size in enumerate(sizes)
    ]  # fmt: skip
    return [parent, *children]


def _order(rnd: random.Random, ns: NetSuite, n: int) -> Order:
    created = {0: AMBIGUOUS, 1: MISSING}.get(n) or datetime(2024, 12, 1) + timedelta(
        days=rnd.randint(0, 40), minutes=rnd.randint(0, 24 * 60 - 1)
    )
    count = rnd.randint(2 if n % 4 == 2 else 1, 4)
    items = rnd.sample(ns.sellable(), count)
    lines = [
        Line(k + 1, item, rnd.choice((1, 1, 2, 3, 1200)), item.price,
             (item.price * Decimal("0.0825")).quantize(CENT), rnd.choice(("", "", "gift wrap")))
        for k, item in enumerate(items)
    ]  # fmt: skip
    status = "Cancelled" if n == 5 else ("Pending Fulfillment" if n % 3 == 0 else "Billed")
    memo = "Phone order" if n % 5 == 3 else ""
    shipping = Decimal(rnd.choice(("0.00", "9.95", "24.50")))
    return Order(str(9000 + n), f"SO{1001 + n}", created, status, rnd.choice(ns.customers), memo,
                 shipping, lines)  # fmt: skip


def _fulfillments(rnd: random.Random, ns: NetSuite, order: Order, n: int) -> list[Fulfillment]:
    """One shipment, or two for every sixth order with several lines (the first line first)."""
    lines = [Shipped(ln.line_id, ln.item, ln.quantity) for ln in order.lines]
    parts = [lines[:1], lines[1:]] if n % 6 == 1 and len(lines) > 1 else [lines]
    out = []
    for k, part in enumerate(parts):
        when = order.created + timedelta(days=1 + k, hours=rnd.randint(0, 8))
        tracking = "" if n % 7 == 4 else f"1Z{rnd.randint(10**9, 10**10 - 1)}"
        out.append(Fulfillment(str(7000 + 10 * n + k), f"IF{3001 + 10 * n + k}", when, order,
                               rnd.choice(ns.locations), rnd.choice(("UPS", "FedEx")), tracking,
                               part))  # fmt: skip
    return out


def _credit_memo(rnd: random.Random, order: Order, n: int) -> CreditMemo:
    """Credits one unit of the first line, and the shipping for every other memo."""
    first = order.lines[0]
    lines = [Credited(first.line_id, first.item.name, 1, first.rate + first.tax)]
    if n % 8 == 2 and order.shipping:
        lines.append(Credited(None, "Shipping", 1, order.shipping))
    when = order.created + timedelta(days=rnd.randint(3, 20))
    return CreditMemo(str(8000 + n), f"CM{5001 + n}", when, order, lines)

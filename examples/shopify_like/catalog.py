"""The generated catalogue: products with variants, options and images; locations; collections.

Every builder is a pure function of (seed, position): the same inputs give the same record,
so nothing has to be held in memory and any page can be rebuilt on demand.
"""

from __future__ import annotations

import itertools
import random
from typing import Any, NamedTuple

from examples.common import CATALOG_START, iso, mix, money
from examples.shopify_like import ids

Record = dict[str, Any]
K_SHAPE, K_PRODUCT, K_STOCK, K_COLLECT = 11, 12, 13, 14

# (product_type, sku code, nouns, options (name, values), price range in dollars, grams)
PRODUCT_TYPES: tuple[tuple[str, str, tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...],
                           tuple[int, int], int], ...] = (
    ("Apparel", "APP", ("T-Shirt", "Hoodie", "Crewneck", "Polo"),
     (("Size", ("S", "M", "L", "XL")), ("Color", ("Black", "White", "Navy", "Olive"))), (18, 89), 350),
    ("Footwear", "FTW", ("Sneaker", "Runner", "Loafer"),
     (("Size", ("7", "8", "9", "10", "11")),), (59, 189), 900),
    ("Accessories", "ACC", ("Tote Bag", "Cap", "Scarf", "Wallet"), (), (12, 79), 150),
    ("Home", "HOM", ("Mug", "Candle", "Throw Blanket"),
     (("Color", ("Sand", "Sage", "Charcoal")), ("Size", ("Small", "Large"))), (14, 129), 600),
    ("Outdoor", "OUT", ("Water Bottle", "Daypack"),
     (("Color", ("Red", "Blue", "Black")), ("Capacity", ("500 ml", "750 ml")),
      ("Finish", ("Matte", "Gloss"))), (22, 149), 450),
    ("Furniture", "FUR", ("Lounge Chair", "Side Table", "Floor Lamp"),
     (("Finish", ("Oak", "Walnut", "Black")),), (450, 1899), 12000),
)  # fmt: skip
ADJECTIVES = ("Classic", "Everyday", "Heritage", "Organic", "Lightweight", "Premium", "Vintage",
              "Urban", "Coastal", "Alpine", "Essential", "Relaxed")  # fmt: skip
VENDORS = ("Northwind Goods", "Acme Apparel", "Bluebird & Co", "Fjord Supply")
LOCATIONS = (
    ("Main Warehouse", "120 Industrial Way", None, "Secaucus", "07094", "New Jersey", "NJ",
     "United States", "US", "+12015550100"),
    ("Brooklyn Store", "85 Atlantic Avenue", "Unit 2", "Brooklyn", "11201", "New York", "NY",
     "United States", "US", None),
    ("Toronto Store", "500 King Street West", None, "Toronto", "M5V 1L9", "Ontario", "ON",
     "Canada", "CA", "+14165550188"),
)  # fmt: skip
COLLECTIONS = ("New Arrivals", "Best Sellers", "Summer Edit", "Gift Ideas", "Last Chance")


class Shape(NamedTuple):
    """What an order or an inventory listing needs to know about a product, cheaply."""

    type_index: int
    variants: int
    updated: int


def product_shape(seed: int, pos: int) -> Shape:
    h = mix(seed, K_SHAPE, pos)
    type_index = h % len(PRODUCT_TYPES)
    options = PRODUCT_TYPES[type_index][3]
    combos = 1
    for _, values in options:
        combos *= len(values)
    variants = 1 if not options else 1 + (h >> 8) % min(ids.MAX_VARIANTS, combos)
    created = CATALOG_START + (h >> 16) % (150 * 86400)
    return Shape(type_index, variants, created + (h >> 40) % (30 * 86400))


class Brief(NamedTuple):
    """A product's identity and prices: what orders need, without building the record."""

    pos: int
    shape: Shape
    title: str
    handle: str
    vendor: str
    tags: str
    combos: list[tuple[str, ...]]
    prices: list[int]

    def sku(self, k: int) -> str:
        return f"{PRODUCT_TYPES[self.shape.type_index][1]}-{self.pos + 1:05d}-{k + 1}"

    @property
    def grams(self) -> int:
        return PRODUCT_TYPES[self.shape.type_index][5]


def product_brief(seed: int, pos: int) -> Brief:
    shape = product_shape(seed, pos)
    ptype, _, nouns, options, (lo, hi), _ = PRODUCT_TYPES[shape.type_index]
    rng = random.Random(mix(seed, K_PRODUCT, pos))
    title = f"{rng.choice(ADJECTIVES)} {rng.choice(nouns)}"
    combos = _pick_combos(rng, options, shape.variants)
    base = rng.randrange(lo, hi + 1) * 100 + rng.choice((0, 50, 95, 99))
    prices = [base + (500 if "XL" in c or "Large" in c else 0) for c in combos]
    return Brief(
        pos=pos, shape=shape, title=title,
        handle=f"{title.lower().replace(' ', '-')}-{pos + 1}", vendor=rng.choice(VENDORS),
        tags=", ".join(sorted({ptype.lower(), rng.choice(("new", "core", "sale"))})),
        combos=combos, prices=prices,
    )  # fmt: skip


def build_product(brief: Brief, stock: list[int]) -> Record:
    """The product record; `stock[k]` is variant k's total available over all locations."""
    shape, pos = brief.shape, brief.pos
    ptype, _, _, options, _, _ = PRODUCT_TYPES[shape.type_index]
    pid = ids.PRODUCT + pos
    created, updated = iso(shape.updated - 86400 * 30), iso(shape.updated)
    variants = [_variant(brief, k, stock[k], created, updated) for k in range(len(brief.combos))]
    images = [_image(pid, brief.handle, pos, k, created, updated)
              for k in range(1 + (shape.variants > 2))]  # fmt: skip
    return {
        "id": pid, "title": brief.title,
        "body_html": f"<p>The {brief.title.lower()}, made to last.</p>",
        "vendor": brief.vendor, "product_type": ptype, "created_at": created,
        "handle": brief.handle, "updated_at": updated, "published_at": created,
        "template_suffix": None, "published_scope": "global", "status": "active",
        "tags": brief.tags, "admin_graphql_api_id": ids.gid("Product", pid),
        "variants": variants, "options": _options(pid, pos, options, brief.combos),
        "images": images, "image": images[0],
    }  # fmt: skip


def _pick_combos(
    rng: random.Random, options: tuple[tuple[str, tuple[str, ...]], ...], count: int
) -> list[tuple[str, ...]]:
    if not options:
        return [("Default Title",)]
    every = list(itertools.product(*(values for _, values in options)))
    chosen = sorted(rng.sample(range(len(every)), count))
    return [every[i] for i in chosen]


def _options(
    pid: int,
    pos: int,
    options: tuple[tuple[str, tuple[str, ...]], ...],
    combos: list[tuple[str, ...]],
) -> list[Record]:
    named = options or (("Title", ("Default Title",)),)
    result = []
    for index, (name, values) in enumerate(named):
        used = {combo[index] for combo in combos}
        result.append({
            "id": ids.OPTION + pos * ids.MAX_VARIANTS + index, "product_id": pid, "name": name,
            "position": index + 1, "values": [v for v in values if v in used],
        })  # fmt: skip
    return result


def _variant(brief: Brief, k: int, stock: int, created: str, updated: str) -> Record:
    slot = brief.pos * ids.MAX_VARIANTS + k
    vid, combo, price = ids.VARIANT + slot, brief.combos[k], brief.prices[k]
    padded = (*combo, None, None)
    return {
        "id": vid, "product_id": ids.PRODUCT + brief.pos, "title": " / ".join(combo),
        "price": money(price), "sku": brief.sku(k), "position": k + 1,
        "inventory_policy": "deny", "compare_at_price": money(price + 1000) if k == 1 else None,
        "fulfillment_service": "manual", "inventory_management": "shopify",
        "option1": padded[0], "option2": padded[1], "option3": padded[2],
        "created_at": created, "updated_at": updated, "taxable": True,
        "barcode": _ean13(slot), "grams": brief.grams, "image_id": None,
        "weight": brief.grams / 1000, "weight_unit": "kg",
        "inventory_item_id": ids.INVENTORY_ITEM + slot, "inventory_quantity": stock,
        "old_inventory_quantity": stock, "requires_shipping": True,
        "admin_graphql_api_id": ids.gid("ProductVariant", vid),
    }  # fmt: skip


def _image(pid: int, handle: str, pos: int, k: int, created: str, updated: str) -> Record:
    image_id = ids.IMAGE + pos * ids.MAX_VARIANTS + k
    return {
        "id": image_id, "alt": None, "position": k + 1, "product_id": pid,
        "created_at": created, "updated_at": updated,
        "admin_graphql_api_id": ids.gid("ProductImage", image_id), "width": 1200, "height": 1200,
        "src": f"https://cdn.example.com/demo/products/{handle}-{k + 1}.jpg", "variant_ids": [],
    }  # fmt: skip


def _ean13(slot: int) -> str:
    digits = f"20{slot:010d}"[-12:]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def base_available(seed: int, slot: int, location: int) -> int:
    """Units of variant `slot` at location index `location` before any write."""
    return mix(seed, K_STOCK, slot, location) % 40 + (5 if location == 0 else 0)


def stock_updated(seed: int, slot: int) -> int:
    return CATALOG_START + 200 * 86400 + mix(seed, K_STOCK, slot) % (20 * 86400)


def build_location(pos: int) -> Record:
    name, a1, a2, city, zip_, province, pcode, country, ccode, phone = LOCATIONS[pos]
    lid = ids.LOCATION + pos
    stamp = iso(CATALOG_START - 86400 * (30 - pos))
    return {
        "id": lid, "name": name, "address1": a1, "address2": a2, "city": city, "zip": zip_,
        "province": province, "country": ccode, "phone": phone, "created_at": stamp,
        "updated_at": stamp, "country_code": ccode, "country_name": country,
        "province_code": pcode, "legacy": False, "active": True, "deleted_at": None,
        "admin_graphql_api_id": ids.gid("Location", lid), "localized_country_name": country,
        "localized_province_name": province,
    }  # fmt: skip


def location_updated(pos: int) -> int:
    return CATALOG_START - 86400 * (30 - pos)


def build_collection(pos: int) -> Record:
    cid = ids.COLLECTION + pos
    title = COLLECTIONS[pos]
    stamp = iso(collection_updated(pos))
    return {
        "id": cid, "handle": title.lower().replace(" ", "-"), "title": title,
        "updated_at": stamp, "body_html": f"<p>{title}.</p>", "published_at": stamp,
        "sort_order": "manual", "template_suffix": None, "published_scope": "web",
        "admin_graphql_api_id": ids.gid("Collection", cid),
    }  # fmt: skip


def collection_updated(pos: int) -> int:
    return CATALOG_START - 86400 * (20 - pos)


def collect_exists(seed: int, pos: int) -> bool:
    """Collect slot `pos` = product * 2 + j: every product is in one collection, a third in two."""
    return pos % 2 == 0 or mix(seed, K_COLLECT, pos // 2) % 3 == 0


def collect_collection(pos: int) -> int:
    product, j = divmod(pos, 2)
    return (product + 2 * j) % len(COLLECTIONS)


def build_collect(seed: int, pos: int) -> Record:
    product = pos // 2
    stamp = iso(product_shape(seed, product).updated)
    return {
        "id": ids.COLLECT + pos, "collection_id": ids.COLLECTION + collect_collection(pos),
        "product_id": ids.PRODUCT + product, "created_at": stamp, "updated_at": stamp,
        "position": product + 1, "sort_value": f"{product + 1:010d}",
    }  # fmt: skip

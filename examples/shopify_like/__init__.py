"""shopify-like: a local HTTP server in the shape of Shopify's REST Admin API (2024-01).

`generate(orders=N, seed=S)` describes a shop of any size (records built on demand);
`running_shopify_like(...)` serves one on a loopback port; `create_app(store)` is the ASGI app;
`Webhooks` sends the shop's signed change webhooks to its subscribers.
"""

from __future__ import annotations

from examples.shopify_like.app import create_app
from examples.shopify_like.data import ShopData, generate
from examples.shopify_like.server import API_VERSION, ShopHandle, running_shopify_like, serve
from examples.shopify_like.store import Store
from examples.shopify_like.webhooks import Webhooks

__all__ = [
    "API_VERSION",
    "ShopData",
    "ShopHandle",
    "Store",
    "Webhooks",
    "create_app",
    "generate",
    "running_shopify_like",
    "serve",
]

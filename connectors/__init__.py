"""Source connectors, registered by name (entry points group `loop_etl.connectors`)."""

from __future__ import annotations

from connectors.base import Connector, ExtractRequest, Page
from connectors.registry import connector_class, known_connectors

__all__ = ["Connector", "ExtractRequest", "Page", "connector_class", "known_connectors"]

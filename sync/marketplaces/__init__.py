"""Marketplaces behind one seam (sync.marketplaces.base): a connection's kind names its platform folder.

`client_for(connection, **kw)` builds the platform's HTTP client (budgeted, recorded: sync.calls) and
`marketplace_for(connection, client)` the adapter the pipelines use. Imported by dotted path so a platform's
code loads only where it is used.
"""
from django.utils.module_loading import import_string

CLIENTS = {
    "top": "sync.marketplaces.top.client.TopClient",
    "douyin": "sync.marketplaces.douyin.client.DouyinClient",
}
ADAPTERS = {
    "top": "sync.marketplaces.top.adapter.TopMarketplace",
    "douyin": "sync.marketplaces.douyin.adapter.DouyinMarketplace",
}


def is_marketplace(kind: str) -> bool:
    return kind in ADAPTERS


def adapter_class(kind: str):
    """The adapter class of a marketplace kind (its channel, window policy and capabilities are class data)."""
    return import_string(ADAPTERS[kind])


def client_for(connection, **kwargs):
    """The platform's client for this connection; KeyError for a kind that is not a marketplace."""
    return import_string(CLIENTS[connection.kind])(connection, **kwargs)


def marketplace_for(connection, client=None, **kwargs):
    """The adapter for this connection, over `client` (default: a new client_for(connection, **kwargs))."""
    return adapter_class(connection.kind)(connection, client=client or client_for(connection, **kwargs))

"""What the communicators share: the scope of a fake connection, and the app to run."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast
from urllib.parse import unquote, urlsplit

from fast_channels._headers import header_pairs
from fast_channels.consumer.base import AsyncConsumer
from fast_channels.types import ASGIApp, Scope

__all__ = ["Headers", "application_of", "connection_scope"]

Headers = Sequence[tuple[bytes, bytes] | list[bytes]]
"""Request headers: (name, value) pairs of bytes, as tuples or as ASGI's two-item lists."""

_SPEC = re.compile(r"\d+\.\d+", re.ASCII)


def application_of(application: ASGIApp | type[AsyncConsumer]) -> ASGIApp:
    """The ASGI app to run: a consumer class's ``as_asgi()``, or ``application`` itself."""
    if isinstance(application, type) and issubclass(application, AsyncConsumer):
        return application.as_asgi()
    # an ASGI app, which may itself be a class (Starlette's WebSocketEndpoint)
    return cast(ASGIApp, application)


def _spec_version(spec_version: str | int | None) -> str:
    if spec_version is None:
        return "2.3"
    text = f"{spec_version}.0" if isinstance(spec_version, int) else spec_version
    if isinstance(spec_version, bool) or not isinstance(text, str) or not _SPEC.fullmatch(text):
        raise ValueError(
            f"spec_version must be an ASGI spec version like '2.3' (or an int), got "
            f"{spec_version!r}"
        )
    return text


def connection_scope(
    kind: str, path: str, headers: Headers, spec_version: str | int | None
) -> Scope:
    """The scope of a ``kind`` ("http", "websocket") connection to ``path`` (which may
    carry a query string), as a server on ``testserver:80`` would make it."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must be a str starting with '/', got {path!r}")
    parts = urlsplit(path)
    return {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": _spec_version(spec_version)},
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": unquote(parts.path),
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": [(name.lower(), value) for name, value in header_pairs(headers, what="headers")],
        "extensions": {},
        "state": {},
    }

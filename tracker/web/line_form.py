"""edit_line takes ``id`` and ANY of its fields (CONTRACT): a script may post ``id`` and ``verb``
alone. Datasette binds a write query's parameters from the posted body only, and refuses one
that is missing, so this wrapper posts the missing fields as empty, which the query's trigger
reads as "leave as it is"."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Awaitable, Callable, MutableMapping
from urllib.parse import parse_qsl, urlencode

from .guard import ASGIApp, read_body, replay, too_large
from .workspace import workspace

if TYPE_CHECKING:
    from datasette.app import Datasette

LINE_FIELDS = ("title", "publisher", "verb", "published")


def line_form_app(datasette: Datasette, app: ASGIApp) -> ASGIApp:
    async def wrapped(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[dict]],
                      send: Callable[[dict], Awaitable[None]]) -> None:
        config = workspace(datasette)
        if (scope["type"] != "http" or scope.get("method") != "POST" or config is None
                or not scope.get("path", "").endswith(f"/{config.database}/edit_line")):
            return await app(scope, receive, send)
        read = await read_body(receive)
        if read is None:
            return await too_large(send)
        body = with_every_field(read)
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await app(dict(scope, headers=headers), replay(body, receive), send)

    return wrapped


def with_every_field(body: bytes) -> bytes:
    """The posted form (or JSON object, which Datasette also reads) with each missing field empty."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{") and text.endswith("}"):
        try:
            data = json.loads(text)
        except ValueError:
            return body  # Datasette reports it as it would
        if isinstance(data, dict):
            return json.dumps({**dict.fromkeys(LINE_FIELDS, ""), **data}).encode()
        return body
    present = {key for key, _ in parse_qsl(text, keep_blank_values=True)}
    missing = [(field, "") for field in LINE_FIELDS if field not in present]
    if not missing:
        return body
    return (text + ("&" if text else "") + urlencode(missing)).encode()

"""JSON errors and JSON bodies: every answer of the gateway, error or not, is JSON."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from stack.errors import StackError


class RequestError(StackError):
    """Ends a request with `status` and a JSON body `{"error": message, "status": status}`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status, headers=headers)


async def read_json_object(request: web.Request, *, empty_ok: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; RequestError 400 quoting the problem otherwise."""
    raw = await request.read()
    if not raw.strip():
        if empty_ok:
            return {}
        raise RequestError(400, "request body is empty; send a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError(400, f"request body must be a JSON object, got {type(body).__name__}: {_clip(body)}")
    return body


def number_field(body: dict[str, Any], name: str, default: float | None = None) -> float:
    """`body[name]` as a finite number (or `default` when absent); RequestError 400 otherwise."""
    if name not in body:
        if default is None:
            raise RequestError(400, f'missing field "{name}"')
        return default
    value = body[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != value
        or value in (float("inf"), float("-inf"))
    ):
        raise RequestError(400, f'"{name}" must be a number, got {_clip(value)}')
    return float(value)


def _clip(value: Any, limit: int = 80) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."

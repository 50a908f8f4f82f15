"""Errors of the fault proxy's control API.

    StackError                 (stack.errors)
    └── ApiError               a request the API refuses; carries the HTTP status
        ├── BadRequest         400: malformed body, missing or invalid field
        ├── NotFound           404: no proxy or toxic by that name
        └── Conflict           409: name taken, or listen address in use

The JSON body of an error is Toxiproxy's: `{"error": message, "status": code}`
(stack.proxy.api.error_response).
"""

from __future__ import annotations

from stack.errors import StackError


class ApiError(StackError):
    """A refused API request; `status` is the HTTP status to answer with."""

    status = 400


class BadRequest(ApiError):
    status = 400


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409

"""What a Locust profile can tell us without running it: its endpoints and whether it checks responses.

Read statically with `ast`, so validation never imports the locustfile (that
would import locust and monkey-patch the orchestrator with gevent).

Endpoints are `"<METHOD> <name>"`, the way the recording plugin names them
(request_type + " " + name): for `self.client.post("/v1/score", ...)` it is
`POST /v1/score`, and a `name="..."` keyword replaces the URL (a name that already
starts with the method, `name="POST /v1/score"`, is the endpoint as it is). `client.request(
"GET", url)` counts too. When any client call has a URL or name that is not a
string literal (an f-string, a variable), the set is unknowable and `endpoints`
is None: validation then accepts any endpoint.

A profile checks responses when it calls `mark_correct` (harness.load) or
writes the `gameday.correct` context key itself.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
CORRECTNESS_MARKERS = ("mark_correct", "CORRECT_KEY", "gameday.correct")


@dataclass(frozen=True)
class ProfileFacts:
    """`endpoints` None means unknown (accept any); `checks_correctness` is the marker's presence."""

    endpoints: frozenset[str] | None
    checks_correctness: bool


def scan_profile(source: str) -> ProfileFacts:
    """Facts about a locustfile's source; SyntaxError (ValueError) propagates to the caller."""
    tree = ast.parse(source)
    endpoints: set[str] = set()
    known = True
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (called := _client_method(node)) is not None:
            endpoint = _endpoint(node, called)
            known = known and endpoint is not None
            if endpoint:
                endpoints.add(endpoint)
    return ProfileFacts(frozenset(endpoints) if known else None, _checks_correctness(tree))


def _client_method(call: ast.Call) -> str | None:
    """'get', 'post', ... or 'request' for a call of `self.client.<that>(...)`; None for any other call."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in (*HTTP_METHODS, "request"):
        return None
    owner = func.value
    if (isinstance(owner, ast.Attribute) and owner.attr == "client") or (
        isinstance(owner, ast.Name) and owner.id == "client"
    ):
        return func.attr
    return None


def _endpoint(call: ast.Call, called: str) -> str | None:
    args = list(call.args)
    if called == "request":
        method = _literal(args.pop(0)) if args else _keyword(call, "method")
    else:
        method = called
    url = _literal(args[0]) if args else _keyword(call, "url") or _keyword(call, "path")
    name = _keyword(call, "name") if any(k.arg == "name" for k in call.keywords) else url
    if not isinstance(method, str) or not isinstance(name, str):
        return None
    prefix = f"{method.upper()} "
    # A name that already spells the method (name="POST /v1/score") is taken as the endpoint.
    return name if name.startswith(prefix) else prefix + name


def _keyword(call: ast.Call, arg: str) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == arg:
            return _literal(keyword.value)
    return None


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _checks_correctness(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in CORRECTNESS_MARKERS:
            return True
        if isinstance(node, ast.Attribute) and node.attr in CORRECTNESS_MARKERS:
            return True
        if isinstance(node, ast.alias) and node.name in CORRECTNESS_MARKERS:
            return True
        if isinstance(node, ast.Constant) and node.value in CORRECTNESS_MARKERS:
            return True
    return False

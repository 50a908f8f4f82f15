"""The gateway's OpenAPI 3 document: every route, with an example body for each POST."""

from __future__ import annotations

from stack.config import StackConfig
from stack.model import FEATURES, N_FEATURES, example_features

ERROR = {"$ref": "#/components/schemas/Error"}
FEATURES_SCHEMA = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": N_FEATURES,
    "maxItems": N_FEATURES,
    "description": "in order: " + ", ".join(FEATURES),
}
SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    },
    "ScoreRequest": {
        "type": "object",
        "required": ["features"],
        "properties": {"features": FEATURES_SCHEMA, "client_id": {"type": "string"}},
    },
    "ScoreResponse": {
        "type": "object",
        "properties": {
            "score": {"type": "number"},
            "model_version": {"type": "string"},
            "replica": {"type": "string"},
            "cached": {"type": "boolean"},
        },
    },
    "EventRequest": {
        "type": "object",
        "required": ["features"],
        "properties": {"event_id": {"type": "string"}, "features": FEATURES_SCHEMA},
    },
    "EventResponse": {
        "type": "object",
        "properties": {"event_id": {"type": "string"}, "partition": {"type": "integer"}, "offset": {"type": "integer"}},
    },
    "Breakers": {
        "type": "object",
        "properties": {
            "breakers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "replica": {"type": "string"},
                        "version": {"type": "string"},
                        "state": {"type": "string", "enum": ["closed", "half_open", "open"]},
                        "consecutive_failures": {"type": "integer"},
                        "opened_at": {"type": "number", "nullable": True},
                        "forced": {"type": "string", "nullable": True},
                        "forced_until": {"type": "number", "nullable": True},
                    },
                },
            }
        },
    },
    "Health": {"type": "object", "properties": {"status": {"type": "string"}, "reason": {"type": "string"}}},
    "Empty": {"type": "object"},
    "ForceBreaker": {
        "type": "object",
        "required": ["state"],
        "properties": {
            "state": {"type": "string", "enum": ["open", "closed"]},
            "ttl": {"type": "number", "default": 300},
        },
    },
    "Replicas": {
        "type": "object",
        "properties": {
            "replicas": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "replica": {"type": "string"},
                        "version": {"type": "string"},
                        "url": {"type": "string"},
                        "breaker": {"type": "string"},
                        "last_error": {"type": "object", "nullable": True},
                    },
                },
            }
        },
    },
    "RateLimit": {"type": "object", "properties": {"rps": {"type": "number"}, "burst": {"type": "number"}}},
    "Cache": {"type": "object", "properties": {k: {"type": "integer"} for k in ("size", "capacity", "hits", "misses")}},
    "Split": {
        "type": "object",
        "properties": {
            "canary_weight": {"type": "number", "minimum": 0, "maximum": 1},
            "stable": {"type": "array", "items": {"type": "string"}},
            "canary": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def _json(schema_name: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def _op(summary: str, ok: str, errors: dict[str, str] | None = None, body: tuple[str, dict] | None = None) -> dict:
    responses = {"200": {"description": "OK", "content": _json(ok)}}
    for status, description in (errors or {}).items():
        responses[status] = {"description": description, "content": {"application/json": {"schema": ERROR}}}
    op = {"summary": summary, "responses": responses}
    if body is not None:
        schema_name, example = body
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}, "example": example}
            },
        }
    return op


def _paths() -> dict:
    features = example_features(0)
    bad = {"400": "the body is not valid; the message quotes the problem"}
    return {
        "/v1/score": {
            "post": _op(
                "Score a transaction on a model replica (cached, load balanced, stable/canary split)",
                "ScoreResponse",
                {
                    **bad,
                    "429": "over the client's rate limit; see Retry-After",
                    "502": "every replica attempt failed",
                    "503": "shed under overload, or no replica available",
                },
                ("ScoreRequest", {"features": features, "client_id": "checkout"}),
            )
        },
        "/v1/events": {
            "post": _op(
                "Publish a transaction to Kafka topic `transactions` (acks=all)",
                "EventResponse",
                {**bad, "503": "Kafka did not acknowledge the event"},
                ("EventRequest", {"event_id": "6f1c2a7e9d8b4c3a", "features": features}),
            )
        },
        "/healthz": {
            "get": _op(
                "200 while at least one replica's breaker is not open", "Health", {"503": "every breaker is open"}
            )
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus text exposition",
                "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }
        },
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}},
        "/admin/breakers": {"get": _op("Every replica's circuit breaker", "Breakers")},
        "/admin/breakers/reset": {
            "post": _op("Close every breaker and clear forced states", "Breakers", body=("Empty", {}))
        },
        "/admin/breakers/{replica}": {
            "post": {
                **_op(
                    "Force a breaker open or closed for `ttl` seconds (default 300), then it reverts to closed",
                    "Breakers",
                    {**bad, "404": "no such replica"},
                    ("ForceBreaker", {"state": "open", "ttl": 30}),
                ),
                "parameters": [
                    {
                        "name": "replica",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "example": "replica-1",
                    }
                ],
            }
        },
        "/admin/ratelimit": {
            "get": _op("Per-client token bucket settings", "RateLimit"),
            "post": _op("Change rps and/or burst", "RateLimit", bad, ("RateLimit", {"rps": 50, "burst": 100})),
        },
        "/admin/cache": {
            "get": _op("Cache size, hits and misses", "Cache"),
            "delete": _op("Drop every cached response", "Cache"),
        },
        "/admin/split": {
            "get": _op("Canary weight and replicas per version", "Split"),
            "post": _op("Set the canary weight (0..1)", "Split", bad, ("Split", {"canary_weight": 0.1})),
        },
        "/admin/replicas": {"get": _op("Each replica: version, proxy-hop URL, breaker state, last error", "Replicas")},
    }


def document(config: StackConfig) -> dict:
    """An OpenAPI 3.0 document of the gateway at `config`'s public address."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "gameday reference stack gateway",
            "version": "1",
            "description": "Synchronous scoring over model replicas and event publishing to Kafka.",
        },
        "servers": [{"url": config.url("gateway")}],
        "paths": _paths(),
        "components": {"schemas": SCHEMAS},
    }

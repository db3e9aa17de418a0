"""The receiver's OpenAPI description, built from the provider schemas."""

from __future__ import annotations

from typing import Any

from smsradar.providers.base import Adapter

_ERROR = {"$ref": "#/components/schemas/Error"}
_RESPONSES: dict[str, str] = {
    "400": "Malformed JSON, or a malformed form on Twilio's route (raw body dead-lettered)",
    "401": "Missing or wrong token, or a gateway signature missing, wrong or stale",
    "408": "The request body did not arrive in time",
    "413": "Body over SMSRADAR_MAX_BODY_BYTES",
    "415": "Content-Type is not the endpoint's (JSON; form-encoded for Twilio)",
    "422": "Not a valid webhook; `errors` names each field (raw body dead-lettered)",
    "429": "Too many requests from this source; retry after Retry-After seconds",
    "503": "The broker did not acknowledge in time; retry after Retry-After seconds",
}
# Answers that tell the gateway when to retry.
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "required": True,
        "schema": {"type": "integer"},
    }
}
_RETRY_AFTER_CODES = {"429", "503"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


# The receiver's own routes, answered whatever the webhook settings.
_SERVICE_PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "The process is alive",
            "operationId": "healthz",
            "tags": ["service"],
            "responses": {
                "200": {
                    "description": "Alive",
                    "content": _json({"$ref": "#/components/schemas/Health"}),
                }
            },
        }
    },
    "/readyz": {
        "get": {
            "summary": "The broker is reachable",
            "operationId": "readyz",
            "tags": ["service"],
            "responses": {
                "200": {
                    "description": "Ready: the broker is reachable",
                    "content": _json({"$ref": "#/components/schemas/Readiness"}),
                },
                "503": {
                    "description": "Not ready: the broker is unreachable",
                    "content": _json({"$ref": "#/components/schemas/Readiness"}),
                },
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "operationId": "metrics",
            "tags": ["service"],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "tags": ["service"],
            "responses": {
                "200": {"description": "The OpenAPI document", "content": _json({"type": "object"})}
            },
        }
    },
}


_MEDIA_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded"}


def openapi_document(adapters: list[Adapter]) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error", "detail", "request_id"],
            "properties": {
                "error": {"type": "string"},
                "request_id": {"type": "string"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"loc": {"type": "string"}, "msg": {"type": "string"}},
                    },
                },
            },
        },
        "Accepted": {
            "type": "object",
            "required": ["request_id", "provider", "accepted", "kinds", "received_at"],
            "properties": {
                "request_id": {"type": "string"},
                "provider": {"type": "string"},
                "accepted": {"type": "integer"},
                "kinds": {"type": "array", "items": {"type": "string"}},
                # the arrival stamp of every accepted webhook's envelope
                "received_at": {"type": "string", "format": "date-time"},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok"]}},
        },
        "Readiness": {
            "type": "object",
            "required": ["status", "broker"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "not ready"]},
                "broker": {"type": "string", "enum": ["reachable", "unreachable"]},
            },
        },
    }
    paths: dict[str, Any] = {}
    for adapter in adapters:
        for endpoint in adapter.endpoints:
            schema = endpoint.schema.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            name = endpoint.schema.__name__
            schemas[name] = schema
            responses: dict[str, Any] = {
                "202": {
                    "description": "Published to Kafka and acknowledged by the broker",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}
                    },
                }
            }
            for code, description in _RESPONSES.items():
                responses[code] = {"description": description, "content": _json(_ERROR)}
                if code in _RETRY_AFTER_CODES:
                    responses[code]["headers"] = _RETRY_AFTER
            paths[endpoint.path] = {
                "post": {
                    "summary": endpoint.summary,
                    "operationId": endpoint.path.strip("/").replace("/", "_"),
                    "tags": [adapter.name],
                    "parameters": [
                        {
                            "name": "token",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": "Required when SMSRADAR_WEBHOOK_TOKEN is set",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            _MEDIA_TYPES[endpoint.body_format]: {
                                "schema": {"$ref": f"#/components/schemas/{name}"}
                            }
                        },
                    },
                    "responses": responses,
                }
            }
    return {
        "openapi": "3.0.3",
        "info": {"title": "smsradar receiver", "version": "1"},
        "paths": {**paths, **_SERVICE_PATHS},
        "components": {"schemas": schemas},
    }

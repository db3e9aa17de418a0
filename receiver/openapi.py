"""The receiver's OpenAPI description, built from the provider schemas."""

from __future__ import annotations

from typing import Any

from smsradar.providers.base import Adapter

_ERROR = {"$ref": "#/components/schemas/Error"}
_RESPONSES: dict[str, str] = {
    "400": "Malformed JSON (the raw body is kept in the dead-letter topic)",
    "401": "Missing or wrong ?token=, or a gateway signature missing, wrong or stale",
    "413": "Body over SMSRADAR_MAX_BODY_BYTES",
    "415": "Content-Type is not the endpoint's (JSON; form-encoded for Twilio)",
    "422": "Not a valid webhook; `errors` names each field (raw body dead-lettered)",
    "503": "The broker did not acknowledge in time; retry after Retry-After seconds",
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
            "required": ["request_id", "provider", "accepted", "kinds"],
            "properties": {
                "request_id": {"type": "string"},
                "provider": {"type": "string"},
                "accepted": {"type": "integer"},
                "kinds": {"type": "array", "items": {"type": "string"}},
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
                responses[code] = {
                    "description": description,
                    "content": {"application/json": {"schema": _ERROR}},
                }
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
        "paths": paths,
        "components": {"schemas": schemas},
    }

"""The OpenAPI 3.1 document of the REST API, built from the routes the app registered."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app

import aigc
from aigc.platform.api.routes import API_PREFIX, RouteDoc, RouteTable, documented
from aigc.platform.auth import MIN_PASSWORD, USERNAME
from aigc.platform.ids import ID_SCHEMA
from aigc.platform.statuses import SubmissionStatus

routes = RouteTable()

RULE_ARGUMENT = re.compile(r"<(?:([a-z]+):)?([a-z_]+)>")
# What each converter a rule may use accepts (None: the default, one path segment).
CONVERTER_SCHEMAS: dict[str | None, dict[str, Any]] = {
    "id": ID_SCHEMA,
    None: {"type": "string", "minLength": 1},
}
PATH_EXAMPLES: dict[str, Any] = {
    "slug": "cartpole",
    "phase": "dev",
    "submission_id": 1,
    "index": "0",
}

STATUS_TEXT = {
    400: "The request is invalid: the message says what to change",
    401: "Not signed in, or the token is invalid",
    403: "Signed in, but not allowed",
    404: "Not found (or not yours)",
    409: "Conflicts with the current state",
    413: "The upload is too large",
    429: "Too many requests (a quota, or failed sign-ins): Retry-After says when to try again",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    }
}

_string, _integer, _number = {"type": "string"}, {"type": "integer"}, {"type": "number"}
_nullable_string = {"type": ["string", "null"]}
_time = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {"status": _integer, "message": _string, "retry_at": _time},
            }
        },
    },
    "Credentials": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "minLength": 1},
            "password": {"type": "string", "minLength": 1},
            "name": _string,
        },
    },
    "NewAccount": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "minLength": 1, "pattern": f"^{USERNAME.pattern}$"},
            "password": {"type": "string", "minLength": MIN_PASSWORD},
        },
    },
    "User": {
        "type": "object",
        "properties": {
            "id": _integer,
            "username": _string,
            "role": _string,
            "team": _nullable_string,
        },
    },
    "Token": {
        "type": "object",
        "properties": {
            "token": _string,
            "expires_at": {"type": "string", "format": "date-time"},
            "user": {"$ref": "#/components/schemas/User"},
        },
    },
    "Team": {
        "type": "object",
        "properties": {
            "id": _integer,
            "name": _string,
            "members": {"type": "array", "items": _string},
            "join_code": _string,
        },
    },
    "Phase": {
        "type": "object",
        "properties": {
            "id": _string,
            "title": _string,
            "visibility": {"enum": ["public", "hidden"]},
            "episodes": _integer,
            "start": _time,
            "end": _time,
            "state": {"enum": ["upcoming", "open", "closed"]},
            "seed_rule": {
                "enum": ["fixed", "fresh", "secret"],
                "description": "fresh: drawn for each submission and listed with its result",
            },
            "seeds": {"type": ["array", "null"], "items": _integer},
        },
    },
    "Challenge": {
        "type": "object",
        "properties": {
            "id": _string,
            "title": _string,
            "environment": _string,
            "version": _integer,
            "builtin": {"type": "boolean"},
            "bundle": {
                "type": "boolean",
                "description": "the environment is the organizer's code, in the challenge's bundle",
            },
            "environment_private": {
                "type": "boolean",
                "description": "the bundle's code is not served: only the platform evaluates",
            },
            "available": {
                "type": "boolean",
                "description": "false when the environment cannot be built: no submissions",
            },
            "unavailable_reason": {"type": ["string", "null"]},
            "archived": {
                "type": "boolean",
                "description": "archived: off the lists, closed to submissions",
            },
            "participants": _integer,
            "phases": {"type": "array", "items": {"$ref": "#/components/schemas/Phase"}},
            "runtime": {
                "type": "object",
                "description": "the packages agents run with beside numpy, gymnasium, msgpack "
                "and torch: as the organizer asked for them, as installed, and the image",
                "properties": {
                    "packages": {"type": "array", "items": _string},
                    "installed": {"type": "array", "items": _string},
                    "image": {"type": ["string", "null"]},
                },
            },
            "description": _string,
            "limits": {"type": "object"},
            "metrics": {"type": "object"},
            "quotas": {"type": "object"},
            "starter": _string,
        },
    },
    "ChallengeList": {
        "type": "object",
        "properties": {
            "challenges": {"type": "array", "items": {"$ref": "#/components/schemas/Challenge"}}
        },
    },
    "Submission": {
        "type": "object",
        "properties": {
            "id": _integer,
            "user": _string,
            "team": _nullable_string,
            "challenge": _string,
            "phase": _string,
            "status": {"enum": [status.value for status in SubmissionStatus]},
            "attempts": _integer,
            "episodes_done": {
                "type": ["integer", "null"],
                "description": "null on hidden phases for participants",
            },
            "episodes_total": _integer,
            "failure": {
                "type": ["object", "null"],
                "properties": {"code": _string, "message": _string},
            },
            "platform_failure": {"type": "boolean"},
            "disqualified": {"type": "boolean"},
            "created_at": _time,
            "finished_at": _time,
            "result": {
                "type": ["object", "null"],
                "properties": {
                    "score": {"type": ["number", "null"]},
                    "metrics": {"type": "object"},
                    "episodes": {"type": "array", "items": {"type": "object"}},
                },
            },
            "details_hidden": {"type": "boolean"},
        },
    },
    "SubmissionList": {
        "type": "object",
        "properties": {
            "submissions": {"type": "array", "items": {"$ref": "#/components/schemas/Submission"}}
        },
    },
    "Leaderboard": {
        "type": "object",
        "properties": {
            "challenge": _string,
            "phase": _string,
            "metric": _string,
            "higher_is_better": {"type": "boolean"},
            "columns": {
                "type": "array",
                "items": _string,
                "description": "the challenge's other reported metrics, in each row's metrics",
            },
            "version": _integer,
            "challenge_version": {
                "type": "integer",
                "description": "the challenge's current version",
            },
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "rank": {"type": ["integer", "null"]},
                        "name": _string,
                        "team": {"type": "boolean"},
                        "baseline": {"type": "boolean"},
                        "score": {"type": ["number", "null"]},
                        "ci_low": {"type": ["number", "null"]},
                        "ci_high": {"type": ["number", "null"]},
                        "overlaps_next": {"type": "boolean"},
                        "metrics": {
                            "type": "object",
                            "additionalProperties": {"type": ["number", "null"]},
                        },
                        "episodes": _integer,
                        "submission_id": _integer,
                        "submitted_at": _time,
                        "challenge_version": {
                            "type": ["integer", "null"],
                            "description": "the challenge version the row was scored under",
                        },
                        "outdated": {
                            "type": "boolean",
                            "description": "scored under an earlier challenge version",
                        },
                    },
                },
            },
        },
    },
    "Quota": {
        "type": "object",
        "required": ["challenge", "max_upload_bytes", "phases"],
        "properties": {
            "challenge": _string,
            "max_upload_bytes": {
                "type": "integer",
                "description": "the largest package archive the server accepts, in bytes",
            },
            "phases": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "phase",
                        "per_day",
                        "total",
                        "used_today",
                        "used_total",
                        "left_today",
                        "left_total",
                        "next_at",
                    ],
                    "properties": {
                        "phase": _string,
                        "per_day": {"type": ["integer", "null"], "description": "null: no limit"},
                        "total": {"type": ["integer", "null"], "description": "null: no limit"},
                        "used_today": {"type": "integer", "description": "in the last 24 hours"},
                        "used_total": _integer,
                        "left_today": {
                            "type": ["integer", "null"],
                            "description": "submissions possible now, within both quotas "
                            "(null: no limit)",
                        },
                        "left_total": {"type": ["integer", "null"]},
                        "next_at": {
                            **_time,
                            "description": "while the daily quota is used up: when it frees a "
                            "place",
                        },
                    },
                },
            },
        },
    },
    "Rerun": {
        "type": "object",
        "required": ["challenge", "phase", "version", "queued"],
        "properties": {
            "challenge": _string,
            "phase": _string,
            "version": {"type": "integer", "description": "the version they are evaluated on"},
            "queued": {
                "type": "array",
                "items": _integer,
                "description": "the submissions queued again",
            },
        },
    },
    "Logs": {
        "type": "object",
        "properties": {"id": _integer, "logs": _string, "hidden": {"type": "boolean"}},
    },
    "Episode": {
        "type": "object",
        "required": ["index", "seed", "return", "length", "success", "values"],
        "properties": {
            "index": _integer,
            "seed": {"type": ["integer", "null"]},
            "return": {"type": ["number", "null"]},
            "length": _integer,
            "wall_time": _number,
            "terminated": {"type": "boolean"},
            "truncated": {"type": "boolean"},
            "success": {"type": ["boolean", "null"]},
            "values": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
            "text": {"type": "boolean"},
        },
    },
    "EpisodeList": {
        "type": "object",
        "required": ["id", "episodes"],
        "properties": {
            "id": _integer,
            "challenge": _string,
            "phase": _string,
            "info": {"type": "array", "items": _string},
            "episodes": {"type": "array", "items": {"$ref": "#/components/schemas/Episode"}},
            "failure": {
                "type": ["object", "null"],
                "description": "Why it stopped early; episode and step: where it failed "
                "(null when not in an episode)",
                "properties": {
                    "code": _string,
                    "message": _string,
                    "episode": {"type": ["integer", "null"]},
                    "step": {"type": ["integer", "null"]},
                },
            },
        },
    },
    "EpisodeRecording": {
        "type": "object",
        "required": ["environment", "episode"],
        "properties": {
            "environment": {
                "type": "object",
                "properties": {
                    "id": _string,
                    "kwargs": {"type": "object"},
                    "max_episode_steps": {"type": ["integer", "null"]},
                },
            },
            "episode": {
                "type": "object",
                "description": "an Episode with its recorded actions (packed, base64) and, "
                "for text environments, its prompt and completion",
            },
        },
    },
    "Samples": {
        "type": "object",
        "required": ["id", "titles", "samples"],
        "properties": {
            "id": _integer,
            "titles": {"type": "object", "additionalProperties": _string},
            "samples": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": _integer,
                            "prompt": _string,
                            "completion": _string,
                            "score": {"type": ["number", "null"]},
                            "gold": {"type": ["number", "null"]},
                            "nll": {"type": ["number", "null"]},
                            "gap": {"type": ["number", "null"]},
                        },
                    },
                },
            },
        },
    },
}


def openapi_path(rule: str) -> str:
    """Turn a Flask rule ('/submissions/<id:submission_id>') into an OpenAPI path."""
    return API_PREFIX + RULE_ARGUMENT.sub(r"{\2}", rule)


def path_parameters(rule: str) -> list[dict[str, Any]]:
    """The path parameters of a rule, each with what its converter accepts."""
    parameters = []
    for converter, name in RULE_ARGUMENT.findall(rule):
        if (converter or None) not in CONVERTER_SCHEMAS:
            raise ValueError(f"{rule}: the converter {converter!r} has no schema here")
        parameter = {
            "name": name,
            "in": "path",
            "required": True,
            "schema": dict(CONVERTER_SCHEMAS[converter or None]),
        }
        if name in PATH_EXAMPLES:
            parameter["example"] = PATH_EXAMPLES[name]
        parameters.append(parameter)
    return parameters


def _operation(doc: RouteDoc) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if doc.response:
        content["application/json"] = {"schema": {"$ref": f"#/components/schemas/{doc.response}"}}
    content.update(doc.content)
    success: dict[str, Any] = {"description": "Done"}
    if content and doc.success != 204:
        success["content"] = content
    responses: dict[str, Any] = {str(doc.success): success}
    for status in doc.errors:
        responses[str(status)] = {
            "description": STATUS_TEXT[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status == 429:
            responses[str(status)]["headers"] = RETRY_AFTER
    operation: dict[str, Any] = {
        "operationId": doc.endpoint,
        "summary": doc.summary,
        "responses": responses,
        "x-access": doc.access,
    }
    if doc.access != "anyone":
        operation["security"] = [{"token": []}]
    parameters = path_parameters(doc.rule) + doc.parameters
    if parameters:
        operation["parameters"] = parameters
    if doc.request:
        operation["requestBody"] = doc.request
    return operation


def build(docs: list[RouteDoc]) -> dict[str, Any]:
    """Build the document from the routes' declarations."""
    paths: dict[str, dict[str, Any]] = {}
    for doc in docs:
        paths.setdefault(openapi_path(doc.rule), {})[doc.method.lower()] = _operation(doc)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AIGC — the AI Gym Challenge",
            "version": aigc.__version__,
            "description": "Challenges, submissions and evaluations of reinforcement-learning "
            "agents. Sign in with POST /tokens and send the token as 'Authorization: Bearer'.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
    }


@routes.route("/openapi.json", "GET", "This document", "anyone")
def openapi_document() -> Any:
    return build(documented(current_app))

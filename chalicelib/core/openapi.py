"""The API's OpenAPI 3.1 document, built from what the routes themselves declare.

A route declares its operation with `@operation(...)` under its `@bp.route(...)`: the
Marshmallow schemas it loads (`body`, `query`) and dumps (`response`), its success status,
the headers it reads and sends, and the domain errors it raises. What every route shares
comes from the router (core.http) and is added here once: X-Request-Id, the bearer token
and its 401, Idempotency-Key and its 409 on authenticated POSTs, 412 with If-Match, 304
with If-None-Match, and the errors any request can meet (400, 413, 415, 429, 500; 503 on
writes). Summaries are the first line of the handler's docstring, the rest its description.

apispec's Marshmallow plugin turns the schemas into JSON Schema; what it cannot know about
our own fields and validators (Timestamp, not_blank, text without control characters,
read-only fields) is added by `_field_keywords`; a field whose own validator enforces more
states it in JSON Schema with `metadata={"openapi": {...}}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from marshmallow import Schema, fields, validate

from .errors import (
    BadRequest,
    Conflict,
    DomainError,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from .idempotency import MAX_KEY_CHARS
from .problems import PROBLEM_CONTENT_TYPE, PROBLEMS, problem_of
from .schema import DumpSchema, LoadSchema, Timestamp, not_blank

OPENAPI_VERSION = "3.1.0"
BEARER = "cognito"
# A field's metadata key for JSON Schema keywords that its custom validators enforce.
OPENAPI_METADATA = "openapi"
# A dump schema's field that an answer may leave out: metadata={"optional": True}.
# Every other field it declares is required in the document (every answer has it).
OPTIONAL_METADATA = "optional"
JSON = "application/json"

F = TypeVar("F", bound=Callable[..., Any])

# The methods in the order a reader expects them, and the ones that change something.
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Added to every route by core.transport: HEAD runs GET's view, OPTIONS answers CORS.
_TRANSPORT_METHODS = frozenset({"HEAD", "OPTIONS"})
# Request and response headers the document knows; routes name them in `request_headers`
# and `headers`.
REQUEST_HEADERS = ("If-Match", "If-None-Match")
RESPONSE_HEADERS = ("ETag", "Location", "Retry-After")

# What core.schema.text_errors refuses, as ECMA-262 classes (the document's regex dialect):
# C0 controls but tab, line feed and carriage return. Python's str.isspace() set, for
# not_blank (ECMA's \s differs: it has U+FEFF and lacks U+0085 and U+001C-U+001F).
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f"
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = f"^[^{_CONTROL}]*$"
# Free-form JSON inside a request body: every string and key in it is text.
JSON_TEXT = "JsonText"
NOT_BLANK_TEXT_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"


@dataclass(frozen=True)
class Operation:
    """What one route handler loads, dumps, reads and answers (see `operation`)."""

    body: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | Mapping[str, Any] | None = None
    status: int = 200
    page: bool = False
    content_type: str | tuple[str, ...] = JSON
    request_headers: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    errors: tuple[type[DomainError], ...] = ()
    path_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


_OPERATIONS: dict[Callable[..., Any], Operation] = {}


def operation(
    *,
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    response: type[Schema] | Mapping[str, Any] | None = None,
    status: int = 200,
    page: bool = False,
    content_type: str | tuple[str, ...] = JSON,
    request_headers: Iterable[str] = (),
    headers: Iterable[str] = (),
    errors: Iterable[type[DomainError]] = (),
    path_params: Mapping[str, Mapping[str, Any]] | None = None,
    tags: Iterable[str] = (),
) -> Callable[[F], F]:
    """Declares a route handler's operation for the OpenAPI document.

    body: the LoadSchema of its JSON body (PATCH gets it partial: every field optional).
    query: the LoadSchema of its query string.
    response: the DumpSchema of its answer, `page=True` for a list page of it; or a JSON
        Schema dict for other content (`content_type`: one, or a tuple); None: no body.
    request_headers: of REQUEST_HEADERS. headers: of RESPONSE_HEADERS, on success.
    errors: the DomainErrors it raises itself (NotFound, UnprocessableReference, ...).
    path_params: JSON Schema of path parameters (a non-empty string by default).
    What the router adds to every route is added by the builder."""
    for name in request_headers:
        if name not in REQUEST_HEADERS:
            raise ValueError(f"unknown request header {name!r}; known: {REQUEST_HEADERS}")
    for name in headers:
        if name not in RESPONSE_HEADERS:
            raise ValueError(f"unknown response header {name!r}; known: {RESPONSE_HEADERS}")
    declared = Operation(
        body=body,
        query=query,
        response=response,
        status=status,
        page=page,
        content_type=content_type,
        request_headers=tuple(request_headers),
        headers=tuple(headers),
        errors=tuple(errors),
        path_params=dict(path_params or {}),
        tags=tuple(tags),
    )

    def register(handler: F) -> F:
        _OPERATIONS[handler] = declared
        return handler

    return register


def operation_of(handler: Callable[..., Any]) -> Operation | None:
    return _OPERATIONS.get(handler)


# ---- the document -----------------------------------------------------------------------


def _schema_name(schema: type[Schema] | Schema) -> str:
    if isinstance(schema, type):
        return schema.__name__
    return type(schema).__name__ + ("Patch" if schema.partial else "")


def _field_keywords(converter: Any, fld: fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
    """An apispec attribute function (bound to the converter): our validators' keywords."""
    extra: dict[str, Any] = {}
    validators = list(getattr(fld, "validators", ()))
    for validator in validators:
        if isinstance(validator, validate.Regexp):
            # Regexp matches with re.match (anchored at the start); \Z is Python's end.
            extra["pattern"] = "^" + str(validator.regex.pattern).replace(r"\Z", "$")
    # An unbound field is a query parameter's (apispec reads the schema class's fields).
    loads = isinstance(fld.root, LoadSchema) if fld.parent is not None else True
    if loads and isinstance(fld, fields.Dict):
        # Any JSON the body holds: its strings and keys are text too (core.schema).
        extra["propertyNames"] = {"pattern": TEXT_PATTERN}
        if not fld.value_field:
            extra["additionalProperties"] = {"$ref": f"#/components/schemas/{JSON_TEXT}"}
    enumerated = any(isinstance(v, validate.OneOf) for v in validators)
    if loads and isinstance(fld, fields.String) and "pattern" not in extra and not enumerated:
        blank_refused = any(v is not_blank for v in validators)
        extra["pattern"] = NOT_BLANK_TEXT_PATTERN if blank_refused else TEXT_PATTERN
    # A custom validator's rules, stated by the field: metadata={"openapi": {...}} (or a
    # function returning it, called only when the document is built).
    stated = fld.metadata.get(OPENAPI_METADATA, {})
    extra.update(stated() if callable(stated) else stated)
    if "enum" in extra and extra.get("pattern") in (TEXT_PATTERN, NOT_BLANK_TEXT_PATTERN):
        del extra["pattern"]
    return extra


def _clean_query_parameter(param: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string: Marshmallow's load_default=None is not null."""
    schema = dict(param["schema"])
    if isinstance(schema.get("type"), list):
        kinds = [kind for kind in schema["type"] if kind != "null"]
        schema["type"] = kinds[0] if len(kinds) == 1 else kinds
    if schema.get("default", 0) is None:
        del schema["default"]
    return {**param, "schema": schema}


def _json_text_component(spec: Any) -> None:
    """Two levels deep (the resources' fields are scalars and lists of them): generators
    such as openapi-python-client cannot parse a union that refers to itself."""
    scalar = {"$ref": f"#/components/schemas/{JSON_TEXT}Scalar"}
    spec.components.schema(
        f"{JSON_TEXT}Scalar",
        {"anyOf": [{"type": "string", "pattern": TEXT_PATTERN}, {"type": ["number", "boolean"]}]},
    )
    spec.components.schema(
        JSON_TEXT,
        {
            "description": "A JSON value whose strings and keys are text (no C0 controls "
            "but tab, line feed and carriage return): a scalar, or a list or object of them.",
            "anyOf": [
                scalar,
                {"type": "null"},
                {"type": "array", "items": scalar},
                {
                    "type": "object",
                    "propertyNames": {"pattern": TEXT_PATTERN},
                    "additionalProperties": scalar,
                },
            ],
        },
    )


def _problem_components(spec: Any) -> None:
    spec.components.schema(
        "Problem",
        {
            "type": "object",
            "description": "An RFC 9457 problem. `type` names the problem; see its title.",
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "object",
                    "description": "The invalid fields, each with its messages.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["type", "title"],
        },
    )


_HEADER_COMPONENTS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "The request's id: the client's X-Request-Id when it is safe to echo, "
        "otherwise a new one. It is the correlation id in logs and events.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": 'The resource\'s version, as an entity tag: "<version>".',
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    },
    "Location": {
        "description": "The path of the resource this request created.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Idempotent-Replayed": {
        "description": "true when this is the stored answer of an earlier request with the "
        "same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {
        "description": "The scheme the API expects: Bearer.",
        "schema": {"type": "string"},
    },
}

_PARAMETER_COMPONENTS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "The client's id for this request, echoed back and logged when it is "
        "1-128 of A-Z a-z 0-9 . _ : @ / + = -; otherwise the API makes one.",
        "required": False,
        "schema": {"type": "string"},
    },
    "Idempotency-Key": {
        "description": "Any string that names this request: a retry with the same key and "
        "body gets the original answer, and creates nothing new. Kept at least 24 hours.",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS},
    },
    "If-Match": {
        "description": 'Only if the resource\'s version is this: "<version>" (or *). '
        "Otherwise 412.",
        "required": False,
        "schema": {"type": "string"},
    },
    "If-None-Match": {
        "description": 'Answer 304 with no body when the resource\'s version is this: "<version>".',
        "required": False,
        "schema": {"type": "string"},
    },
}


# apispec turns a component's name into its $ref.
def _header_ref(name: str) -> str:
    return name


def _parameter_ref(name: str) -> str:
    return name


def _errors_of(method: str, authenticated: bool, declared: Operation) -> set[type[DomainError]]:
    """Every error the route can answer: its own, and what the router adds."""
    found: set[type[DomainError]] = {
        BadRequest,  # a malformed gzip body, a bad query string
        PayloadTooLarge,
        UnsupportedMediaType,  # a Content-Encoding other than gzip
        TooManyRequests,  # API Gateway's throttling
        DomainError,  # 500
        *declared.errors,
    }
    if declared.body is not None or declared.query is not None:
        found.add(ValidationFailed)
    if authenticated:
        found.add(Unauthorized)
        if method == "POST":
            found.add(Conflict)  # Idempotency-Key reused, or still in progress
    if "If-Match" in declared.request_headers:
        found.add(PreconditionFailed)
    if authenticated and method in _WRITES:
        found.add(ServiceUnavailable)
    return found


def _error_responses(errors: set[type[DomainError]]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for error in errors:
        problem = problem_of(error)
        by_status.setdefault(problem.status, [])
        if problem.type not in by_status[problem.status]:
            by_status[problem.status].append(problem.type)
    responses: dict[str, Any] = {}
    for status in sorted(by_status):
        types = sorted(by_status[status])
        headers: dict[str, Any] = {"X-Request-Id": _header_ref("X-Request-Id")}
        if status == 401:
            headers["WWW-Authenticate"] = _header_ref("WWW-Authenticate")
        if status in (409, 429, 503):
            headers["Retry-After"] = _header_ref("Retry-After")
        title = next(p.title for p in PROBLEMS.values() if p.status == status)
        responses[str(status)] = {
            "description": f"{title}: problem type " + ", ".join(f"`{t}`" for t in types),
            "headers": headers,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return responses


def _docstring(handler: Callable[..., Any]) -> tuple[str, str]:
    doc = (handler.__doc__ or "").strip()
    summary, _, rest = doc.partition("\n")
    description = re.sub(r"(?<!\n)\n(?!\n)", " ", "\n".join(s.strip() for s in rest.split("\n")))
    return summary.strip(), description.strip()


class Undocumented(Exception):
    """A route has no @operation."""


def _path_parameters(path: str, declared: Operation) -> list[dict[str, Any]]:
    params = []
    for name in re.findall(r"{([^}]+)}", path):
        schema = dict(declared.path_params.get(name, {"type": "string", "minLength": 1}))
        params.append({"in": "path", "name": name, "required": True, "schema": schema})
    return params


def _tag_of(path: str) -> str:
    return path.strip("/").split("/")[0] or "meta"


def build_document(
    routes: Mapping[str, Mapping[str, Any]], *, title: str, version: str, description: str
) -> dict[str, Any]:
    """The OpenAPI document of an app's route table (path -> method -> Chalice RouteEntry).
    The router's HEAD and OPTIONS routes are left out; `description` should name them."""
    # Imported here: only GET /openapi.json needs apispec, not every cold start.
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title=title,
        version=version,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": description, "license": {"name": "MIT", "identifier": "MIT"}},
        servers=[{"url": ".", "description": "The API that serves this document"}],
        security=[{BEARER: []}],
    )
    converter = plugin.converter
    assert converter is not None
    plugin.map_to_openapi_type(Timestamp, "string", "date-time")  # type: ignore[no-untyped-call]
    converter.add_attribute_function(_field_keywords)  # type: ignore[no-untyped-call]
    spec.components.security_scheme(
        BEARER,
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Cognito ID token of the stage's user pool and app client.",
        },
    )
    _problem_components(spec)
    _json_text_component(spec)
    for name, header in _HEADER_COMPONENTS.items():
        spec.components.header(name, header)
    for name, param in _PARAMETER_COMPONENTS.items():
        location = "header"
        spec.components.parameter(name, location, {**param, "name": name})

    for path in sorted(routes):
        operations: dict[str, Any] = {}
        entries = routes[path]
        for method in sorted(entries, key=_METHOD_ORDER.index):
            if method in _TRANSPORT_METHODS:
                continue
            entry = entries[method]
            declared = operation_of(entry.view_function)
            if declared is None:
                raise Undocumented(f"{method} {path} ({entry.view_name}) has no @operation")
            operations[method.lower()] = _operation_object(
                spec, path, method, entry, declared, _shares_its_view(entries, method)
            )
        if operations:
            spec.path(path=path, operations=operations)
    document = spec.to_dict()
    _dump_schemas_are_complete(document, routes)
    return document


def _shares_its_view(entries: Mapping[str, Any], method: str) -> bool:
    """PUT and PATCH with one handler: their operation ids get the method."""
    view = entries[method].view_function
    others = [m for m, e in entries.items() if m != method and m not in _TRANSPORT_METHODS]
    return any(entries[m].view_function is view for m in others)


def _register(spec: Any, schema: type[Schema] | Schema) -> dict[str, str]:
    name = _schema_name(schema)
    if name not in spec.components.schemas:
        spec.components.schema(name, schema=schema)
    return {"$ref": f"#/components/schemas/{name}"}


def _page_ref(spec: Any, item: dict[str, str], item_name: str) -> dict[str, str]:
    name = f"{item_name}Page"
    if name not in spec.components.schemas:
        spec.components.schema(
            name,
            {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": item},
                    "nextCursor": {
                        "type": ["string", "null"],
                        "description": "The next page's cursor; null on the last page.",
                    },
                },
                "required": ["items", "nextCursor"],
                "additionalProperties": False,
            },
        )
    return {"$ref": f"#/components/schemas/{name}"}


def _operation_object(
    spec: Any, path: str, method: str, entry: Any, declared: Operation, shared: bool
) -> dict[str, Any]:
    authenticated = entry.authorizer is not None
    summary, description = _docstring(entry.view_function)
    op: dict[str, Any] = {
        "operationId": f"{entry.view_name}_{method.lower()}" if shared else entry.view_name,
        "summary": summary,
        "tags": list(declared.tags) or [_tag_of(path)],
    }
    if description:
        op["description"] = description
    if not authenticated:
        op["security"] = []
    parameters: list[dict[str, Any] | str] = [*_path_parameters(path, declared)]
    if declared.query is not None:
        converter = spec.plugins[0].converter
        parameters += [
            _clean_query_parameter(p)
            for p in converter.schema2parameters(declared.query, location="query")
        ]
    parameters.append(_parameter_ref("X-Request-Id"))
    if authenticated and method == "POST":
        parameters.append(_parameter_ref("Idempotency-Key"))
    parameters += [_parameter_ref(name) for name in declared.request_headers]
    op["parameters"] = parameters
    if declared.body is not None:
        body = declared.body(partial=True) if method == "PATCH" else declared.body
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": _register(spec, body)}}}

    headers: dict[str, Any] = {"X-Request-Id": _header_ref("X-Request-Id")}
    headers.update({name: _header_ref(name) for name in declared.headers})
    if authenticated and method == "POST":
        headers["Idempotent-Replayed"] = _header_ref("Idempotent-Replayed")
    success: dict[str, Any] = {"description": summary or "Success", "headers": headers}
    types = (
        (declared.content_type,)
        if isinstance(declared.content_type, str)
        else declared.content_type
    )
    if isinstance(declared.response, type):
        ref = _register(spec, declared.response)
        if declared.page:
            ref = _page_ref(spec, ref, _schema_name(declared.response))
        success["content"] = {kind: {"schema": ref} for kind in types}
    elif declared.response is not None:
        success["content"] = {kind: {"schema": dict(declared.response)} for kind in types}
    responses: dict[str, Any] = {str(declared.status): success}
    if "If-None-Match" in declared.request_headers:
        responses["304"] = {
            "description": "Not modified: the version is the one in If-None-Match.",
            "headers": {"X-Request-Id": _header_ref("X-Request-Id"), "ETag": _header_ref("ETag")},
        }
    responses.update(_error_responses(_errors_of(method, authenticated, declared)))
    op["responses"] = dict(sorted(responses.items()))
    return op


def _dump_schemas_are_complete(
    document: dict[str, Any], routes: Mapping[str, Mapping[str, Any]]
) -> None:
    """A dump schema writes every field it declares, so each is required in the answer:
    a generated client then has no 'maybe absent' for them."""
    dumped = {
        _schema_name(op.response)
        for entries in routes.values()
        for entry in entries.values()
        if (op := operation_of(entry.view_function)) is not None
        and isinstance(op.response, type)
        and issubclass(op.response, DumpSchema)
    }
    schemas = document["components"]["schemas"]
    pending = list(dumped)
    optional_fields = {
        _schema_name(cls): {
            fld.data_key or key
            for key, fld in cls._declared_fields.items()
            if fld.metadata.get(OPTIONAL_METADATA)
        }
        for cls in _dump_schema_classes()
    }
    while pending:
        name = pending.pop()
        schema = schemas.get(name)
        if schema is None or "properties" not in schema:
            continue
        optional = optional_fields.get(name, set())
        schema["required"] = sorted(set(schema["properties"]) - optional)
        for prop in schema["properties"].values():
            for ref in _refs(prop):
                nested = ref.rsplit("/", 1)[-1]
                if nested not in dumped:
                    dumped.add(nested)
                    pending.append(nested)


def _dump_schema_classes() -> list[type[Schema]]:
    found: list[type[Schema]] = []
    pending: list[type[Schema]] = [DumpSchema]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.append(sub)
            pending.append(sub)
    return found


def _refs(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "$ref" and isinstance(inner, str):
                yield inner
            else:
                yield from _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _refs(inner)

"""What every sample service shares: tenant context resolved at the door, JSON errors.

The resolver is pluggable so that a learner's function from a notebook becomes
the service's middleware without editing any file. It fails closed: whatever
the resolver raises turns into 401, and the body says why so a learner can see
which rule rejected the request.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from botocore.exceptions import ClientError
from flask import Flask, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from .context import TenantContext

Resolver = Callable[[object], TenantContext]


class DynamoJSON(DefaultJSONProvider):
    """DynamoDB hands numbers back as Decimal; clients should see plain JSON numbers."""

    @staticmethod
    def default(value: object) -> object:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return DefaultJSONProvider.default(value)


def tenant_service(name: str, resolve_tenant: Resolver) -> Flask:
    app = Flask(name)
    app.json = DynamoJSON(app)

    @app.get("/health")
    def health():
        return jsonify(service=name, status="ok")

    @app.before_request
    def resolve():
        if request.path == "/health":
            return None
        try:
            context = resolve_tenant(request)
        except NotImplementedError as error:
            return jsonify(error="not implemented", detail=str(error)), 501
        except Exception as error:  # fail closed: no context, no access
            return jsonify(error="unauthorized", detail=f"{type(error).__name__}: {error}"), 401
        if not isinstance(context, TenantContext):
            return jsonify(error="server error",
                           detail=f"the tenant resolver returned {type(context).__name__}, "
                                  "not a TenantContext"), 500
        g.tenant = context
        return None

    @app.errorhandler(NotImplementedError)
    def unfinished(error: NotImplementedError):  # a learner's stub, called from a handler
        return jsonify(error="not implemented", detail=str(error)), 501

    @app.errorhandler(HTTPException)
    def plain_http_error(error: HTTPException):  # 400/404/405 as JSON, like every other answer
        return jsonify(error=error.name.lower(), detail=error.description), error.code

    @app.errorhandler(ClientError)
    def denied_by_the_account(error: ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code not in ("AccessDeniedException", "AccessDenied"):
            raise error
        return jsonify(error="forbidden by the account",
                       detail=error.response["Error"].get("Message", "")), 403

    return app


def current_tenant() -> TenantContext:
    return g.tenant

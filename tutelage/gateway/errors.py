"""OpenAI error objects: `{"error": {"message", "type", "param", "code"}}` with its status."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

# status -> OpenAI's error type for it
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 405: "invalid_request_error", 408: "timeout_error",
          413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
          500: "server_error", 502: "server_error", 503: "service_unavailable",
          504: "timeout_error"}  # fmt: skip


class APIError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None,
                 type_: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.type = type_ or _TYPES.get(status, "server_error")
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type,
                          "param": self.param, "code": self.code}}  # fmt: skip

    def response(self, request_id: str = "") -> JSONResponse:
        headers = dict(self.headers)
        if request_id:
            headers["x-request-id"] = request_id
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


# Pydantic names the member of a union it tried (`messages.0.content.str`): not a parameter.
_UNION_TAGS = {"str", "int", "float", "bool", "none", "list", "dict"}


def _param(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p != "body" and str(p) not in _UNION_TAGS
             and "[" not in str(p) and not str(p).startswith(("function-", "literal"))]  # fmt: skip
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or None


def validation_error(exc: RequestValidationError) -> APIError:
    """The first problem pydantic found, phrased as OpenAI does."""
    err = exc.errors()[0]
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "json_invalid":
        return APIError(400, f"We could not parse the JSON body of your request: {err.get('msg')}",
                        "invalid_json")  # fmt: skip
    param = _param(loc)
    if err.get("type") == "extra_forbidden":  # OpenAI's answer to a parameter it does not know
        return APIError(400, f"Unrecognized request argument supplied: {param}.",
                        "unknown_parameter", param)  # fmt: skip
    if err.get("type") == "missing":
        return APIError(400, f"Missing required parameter: '{param}'.", "missing_required_parameter",
                        param)  # fmt: skip
    if loc == ("body",):
        return APIError(400, "The request body must be a JSON object.", "invalid_request_body")
    return APIError(400, f"Invalid value for '{param}': {err.get('msg')}.", "invalid_value", param)


def install(app: Any) -> None:
    def rid(request: Request) -> str:
        return str(getattr(request.state, "request_id", ""))

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> JSONResponse:
        return exc.response(rid(request))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc).response(rid(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: f"Unknown request URL: {request.method} {request.url.path}.",
                   405: f"Method {request.method} is not allowed on {request.url.path}."
                   }.get(exc.status_code, str(exc.detail))  # fmt: skip
        return APIError(exc.status_code, message, "unknown_url" if exc.status_code == 404
                        else None).response(rid(request))  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        logging.getLogger("tutelage.gateway").error(
            "request %s failed: %s: %s", rid(request), type(exc).__name__, exc)  # fmt: skip
        return APIError(500, f"The gateway failed on this request ({type(exc).__name__}); "
                        f"request id {rid(request)}.").response(rid(request))  # fmt: skip

"""Error pages for people and JSON errors for the API; never a traceback."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from app.i18n import translate
from app.markers import N_
from app.services.errors import DomainError

# English for the JSON API; people's pages show them in their language (`_render`).
MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("Your role does not allow this page."),
    404: N_("There is nothing here. It may have been removed, or it is not yours to see."),
    405: N_("This action is not allowed here."),
    413: N_("What you sent is too large."),
    500: N_("Something went wrong on our side. Nothing you entered was half-saved; try again."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register(app: Flask) -> None:
    """Install the handlers."""

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError) -> Any:
        message = N_(
            "The form expired or was sent from another site. Reload the page and try again."
        )
        return _render(400, message)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Any:
        # Scoped getters raise NotFound for another reseller's object: the same 404 as missing.
        return _render(exc.http_status, MESSAGES.get(exc.http_status, exc.message))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        code = exc.code or 500
        return _render(code, MESSAGES.get(code, exc.description or N_("Error.")))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return _render(500, MESSAGES[500])


def _render(code: int, message: str) -> Any:
    if _wants_json():
        response = jsonify({"error": message})
        response.status_code = code
        return response
    try:
        message = translate(message)
        return render_template("errors/error.html", code=code, message=message), code
    except Exception:
        # The page itself failed (e.g. an untrusted Host header leaves no URL adapter for the
        # layout's links): answer a bare page rather than a 500.
        page = f"<!doctype html><meta charset=utf-8><title>{code}</title><p>{escape(message)}</p>"
        return page, code

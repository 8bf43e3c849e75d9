"""Request middleware of the portal: hostile input turned away at the door, and the security
headers Django 5.2 does not set by itself (a strict Content-Security-Policy).

Templates carry no inline scripts or styles, so the policy needs no nonce.

`InputSanityMiddleware` is the one place that refuses what no page can use: bytes that are not
UTF-8 (Django would silently turn them into U+FFFD, and a name sent to AWS would change without
anyone noticing), lone surrogates (not UTF-8 either), NUL and other control characters
(PostgreSQL refuses NUL in text and JSON, so without this check any parameter that reaches a
query or the audit trail is a 500 there), and over-long addresses — in the path, the query
string and form bodies. The answer is a 400 page saying which part was wrong and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


# C0 controls and DEL. A form value may hold a tab or a line break (a policy's JSON, a
# description); nothing else in this range has a use, and NUL breaks PostgreSQL.
_PATH_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VALUE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# gunicorn refuses request lines over 4,094 bytes; the test client and other servers do not.
MAX_QUERY_STRING = 8192
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadInput(Exception):
    """A request part no page can use; the message says which and why (shown on the 400 page)."""


def _decoded(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")  # strict: invalid bytes and encoded surrogates both fail
    except UnicodeDecodeError:
        raise BadInput(f"{where} is not valid UTF-8 text.") from None


def check_text(value: str, where: str, *, control: re.Pattern[str] = _VALUE_CONTROL) -> None:
    """Refuse NUL and control characters, lone surrogates and U+FFFD (what invalid UTF-8 became)."""
    if control.search(value):
        raise BadInput(f"{where} contains a control character (such as NUL), which no field accepts.")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise BadInput(f"{where} contains a lone surrogate, which is not text.")
    if "\ufffd" in value:
        raise BadInput(f"{where} contains bytes that are not valid UTF-8 text.")


def check_urlencoded(raw: bytes, where: str) -> None:
    """Every name and value of a query string or urlencoded body, decoded strictly."""
    for pair in raw.split(b"&"):
        for part in pair.split(b"=", 1):
            text = _decoded(unquote_to_bytes(part.replace(b"+", b" ")), where)
            check_text(text, where)


def check_request(request: HttpRequest) -> None:
    # Django has decoded the path already, putting bytes that are not UTF-8 back as %XX (so such
    # a path names no page: a 404, never a changed name); what is left to refuse is controls.
    check_text(request.path_info, "The address", control=_PATH_CONTROL)
    # WSGI hands the query string over as a latin-1 string of the raw bytes.
    query = request.META.get("QUERY_STRING", "")
    if len(query) > MAX_QUERY_STRING:
        raise BadInput(f"The address is too long (over {MAX_QUERY_STRING:,} characters of query).")
    if query:
        try:
            raw = query.encode("latin-1")
        except UnicodeEncodeError:  # a server that decoded it already
            raw = query.encode("utf-8", "surrogatepass")
        check_urlencoded(raw, "A parameter of the address")
    if request.method != "POST":
        return
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        check_urlencoded(request.body, "A form field")  # read once; Django parses the cached body
    elif content_type.startswith("multipart/form-data"):
        # Django has already replaced invalid bytes with U+FFFD here, which check_text refuses.
        for name, values in request.POST.lists():
            check_text(name, "A form field")
            for value in values:
                check_text(value, f"The form field {name!r}")


class InputSanityMiddleware:
    """400 for a request whose path, query string or form fields no page can use (see module doc)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            check_request(request)
        except BadInput as problem:
            return HttpResponse(
                render_to_string("400.html", {"problem": str(problem)}, request=request),
                status=414 if "too long" in str(problem) else 400,
            )
        return self.get_response(request)

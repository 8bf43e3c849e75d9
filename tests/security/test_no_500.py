"""No input is a 500: every URL of the portal (walked from the URLconf) x every parameter the views
read x hostile values — NUL bytes, lone surrogates, invalid UTF-8, 100 KB values, look-alike
Unicode, `../`, unknown enums, damaged cursors, ids past any integer column — by GET and by POST,
signed in as a superuser (who reaches every page), on whichever database the suite runs on.

The data is a real demo: three organizations of orgsim's demo scenario synced through boto3, so
path parameters are filled with real ids (connections, transfers, handshakes, grants, policies,
roots, accounts) as well as hostile ones. A first sweep sends each hostile value in every
parameter of every URL at once; hypothesis then mixes values, parameters and methods.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django import forms
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handshakes.models import Handshake
from orgportal.models import AwsConnection, Grant, Role
from orgportal.sync import sync_connection
from policies.models import Policy
from transfers.models import ResponsibilityTransfer

pytestmark = pytest.mark.django_db

NORTHWIND, FABRIKAM, ADATUM = "210987654321", "433344455566", "766677788899"  # orgsim demo accounts


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


LOOKALIKE = "\uff41\uff4c\uff49\uff43\uff45\uff1d\uff11\uff0b\uff11"  # full-width "alice=1+1"

# Raw, already percent-encoded as they travel in a query string or a form body, so bytes that are
# not UTF-8 reach the server exactly as an attacker sends them.
HOSTILE: list[str] = [
    "%00",
    "a%00b",
    "%ED%A0%80",  # a lone surrogate (U+D800) as UTF-8 would spell it: not valid UTF-8
    "x%ED%B0%80y",
    "%FF",
    "%C0%AF",  # an overlong '/'
    "%E2%82",  # a truncated sequence
    quote(LOOKALIKE),
    quote("\u202egnp.exe\u200b"),
    quote("../../../etc/passwd"),
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "UNKNOWN_ENUM",
    "-nope",
    "foo",  # a relative `next` (Django would take it for a URL name)
    quote("//evil.example/"),
    quote("javascript:alert(1)"),
    "%0D%0ASet-Cookie:%20x=1",
    "-1",
    "99999999999999999999",
    "1e309",
    "NaN",
    quote("2025-13-45T99:99"),
    "eyJ",  # a damaged cursor
    _cursor("-start", {"a": 1}, 1, 0),
    _cursor("-expires_at", "not a date", 2**70, 0),
    _cursor("x"),
    quote('"><script>alert(1)</script>'),
    quote("\t\x0b\x1f\x7f"),
    "",
]
OVERSIZE = "x" * 100_000
# One value of each kind for the sweep over every URL x every parameter (all of them, and 100 KB
# values, are drawn by the hypothesis test).
SWEEP = [
    "a%00b",
    "%ED%A0%80",
    "%C0%AF",
    quote(LOOKALIKE),
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "UNKNOWN_ENUM",
    "foo",
    "%0D%0ASet-Cookie:%20x=1",
    "99999999999999999999",
    _cursor("-start", {"a": 1}, 1, 0),
]

# Parameters views read by name (beyond their forms' fields, collected below).
EXTRA_PARAMS = [
    "q", "party", "state", "status", "action", "direction", "type", "sort", "cursor", "before", "after",
    "page", "connection", "parent", "root", "policy", "target", "next", "what", "confirmed", "confirm",
    "understood", "user", "role", "since", "until", "actor", "outcome", "mode", "policy_id", "target_id",
]  # fmt: skip


def form_fields() -> set[str]:
    """Every field name of every form class of the portal (and Django's login form)."""
    names: set[str] = set()
    pending: list[type] = [forms.BaseForm]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        module = getattr(cls, "__module__", "")
        if module.split(".")[0] in {"orgportal", "transfers", "handshakes", "policies", "audit"} or (
            module == "django.contrib.auth.forms" and cls.__name__ == "AuthenticationForm"
        ):
            names.update(getattr(cls, "base_fields", {}))
    return names


def patterns() -> Iterator[tuple[str, URLPattern]]:
    """(route with <converter:name> placeholders, pattern) of every URL, admin site left out."""

    def walk(items: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for item in items:
            route = prefix + str(item.pattern)
            if isinstance(item, URLResolver):
                if route.startswith("admin/"):
                    continue  # Django's own admin, behind our login and superusers only
                yield from walk(item.url_patterns, route)
            else:
                yield route, item

    yield from walk(get_resolver().url_patterns, "")


PLACEHOLDER = re.compile(r"<(?:(\w+):)?(\w+)>")


@pytest.fixture
def demo(orgsim_demo: Any, make_connection: Callable[..., AwsConnection], make_user: Callable[..., Any]) -> Any:
    connections = [
        make_connection(name=name, account_id=account, endpoint_url=orgsim_demo.endpoint)
        for name, account in (("Northwind", NORTHWIND), ("Fabrikam", FABRIKAM), ("Adatum", ADATUM))
    ]
    for connection in connections:
        run = sync_connection(connection)
        assert run is not None and run.status == "ok", getattr(run, "error", run)
    root = make_user("root", superuser=True)
    admin = make_user("alice", roles=[Role.ADMIN], connection=connections[0])
    client = Client(raise_request_exception=False)  # a 500 is counted, not raised
    return type("Demo", (), {"connections": connections, "root": root, "admin": admin, "client": client})


def _real_ids(demo: Any) -> dict[str, str]:
    """A real id of each kind a path parameter names."""

    def first(model: Any) -> str:
        return str(model.objects.order_by("pk").values_list("pk", flat=True).first())

    policy = Policy.objects.filter(connection=demo.connections[0]).order_by("pk").first()
    assert policy is not None, "the demo sync brings policies"
    return {
        "connection": str(demo.connections[0].pk),
        "transfer": first(ResponsibilityTransfer),
        "handshake": first(Handshake),
        "grant": first(Grant),
        "policy_id": policy.policy_id,
        "target_id": NORTHWIND,
    }


def _kind(name: str, slot: str) -> str:
    """What the path parameter `slot` of the URL named `name` identifies."""
    if slot in ("policy_id", "target_id"):
        return slot
    if slot == "pk":
        for kind in ("transfer", "handshake", "grant"):
            if name.startswith(kind):
                return kind
    return "connection"


def urls(demo: Any) -> list[str]:
    """Every URL, its path parameters filled with real ids of the right kind."""
    ids = _real_ids(demo)
    found = []
    for route, pattern in patterns():
        found.append("/" + PLACEHOLDER.sub(lambda m, name=pattern.name or "": ids[_kind(name, m[2])], route))
    return found


def hostile_path_urls(demo: Any) -> list[str]:
    """Every URL with a path parameter, each parameter in turn given hostile values."""
    ids = _real_ids(demo)
    found = []
    for route, pattern in patterns():
        slots = PLACEHOLDER.findall(route)
        for index, (converter, _slot) in enumerate(slots):
            values = ["0", "99999999999999999999"] if converter == "int" else [*HOSTILE[:16], quote(OVERSIZE[:5000])]
            for value in values:

                def fill(
                    m: re.Match[str],
                    value: str = value,
                    name: str = pattern.name or "",
                    position: Iterator[int] = iter(range(len(slots))),
                ) -> str:
                    return value if next(position) == index else ids[_kind(name, m[2])]

                found.append("/" + PLACEHOLDER.sub(fill, route))
    return found


def query(params: list[str], value: str) -> str:
    return "&".join(f"{name}={value}" for name in params)


def request(client: Client, user: Any, method: str, url: str, body: str) -> int:
    if client.session.get("_auth_user_id") != str(user.pk):
        client.force_login(user)  # after a POST to the logout URL, or a switch of user
    if method == "GET":
        response = client.get(f"{url}?{body}" if body else url)
    else:
        response = client.post(url, data=body.encode("ascii"), content_type="application/x-www-form-urlencoded")
    if response.streaming:
        # A CSV export answers 200 before its body (and its audit row) is written: read it all.
        try:
            b"".join(response.streaming_content)
        except Exception:
            return 500
    return response.status_code


def every_param() -> list[str]:
    get_resolver().url_patterns  # imports every view, hence every form
    return sorted(form_fields() | set(EXTRA_PARAMS))


def test_no_url_answers_500_to_any_hostile_value_in_any_parameter(demo: Any) -> None:
    params = every_param()
    every_url = urls(demo)
    assert len(every_url) >= 44 and len(params) > 50  # the walk found the portal, not a corner of it
    failures = []
    for url in every_url:
        for value in SWEEP:
            for method in ("GET", "POST"):
                status = request(demo.client, demo.root, method, url, query(params, value))
                if status >= 500:
                    failures.append(f"{method} {url} with every parameter = {value[:40]!r}: {status}")
    # Again without the connection filter, which answers 404 to a bad value before the rest is read.
    gated = [name for name in params if name != "connection"]
    for url in every_url:
        for value in ("%00", "99999999999999999999", "eyJ"):
            for method in ("GET", "POST"):
                status = request(demo.client, demo.root, method, url, query(gated, value))
                if status >= 500:
                    failures.append(f"{method} {url} with every parameter but connection = {value!r}: {status}")
    assert not failures, "\n".join(failures)


def test_no_hostile_path_parameter_answers_500(demo: Any) -> None:
    failures = []
    for url in hostile_path_urls(demo):
        for method in ("GET", "POST"):
            status = request(demo.client, demo.root, method, url, "")
            if status >= 500:
                failures.append(f"{method} {url[:120]}: {status}")
    assert not failures, "\n".join(failures)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_mix_of_hostile_values_parameters_and_methods_answers_500(demo: Any, data: st.DataObject) -> None:
    url = data.draw(st.sampled_from(urls(demo)), label="url")
    method = data.draw(st.sampled_from(["GET", "POST"]), label="method")
    value = st.one_of(
        st.sampled_from([*HOSTILE, OVERSIZE]),
        st.text(max_size=40).map(lambda s: quote(s.encode("utf-8", "surrogatepass"))),
    )
    chosen = data.draw(st.dictionaries(st.sampled_from(every_param()), value, min_size=1, max_size=4), label="params")
    body = "&".join(f"{name}={v}" for name, v in chosen.items())
    status = request(demo.client, demo.root, method, url, body)
    assert status < 500, f"{method} {url} {body[:200]!r}: {status}"


def test_a_connection_admin_meets_no_500_either(demo: Any) -> None:
    """The 403 and 404 paths of someone with one connection hold against hostile input too."""
    params = every_param()
    failures = []
    for url in urls(demo):
        for value in ("%00", "99999999999999999999", "foo"):
            for method in ("GET", "POST"):
                status = request(demo.client, demo.admin, method, url, query(params, value))
                if status >= 500:
                    failures.append(f"{method} {url} = {value!r}: {status}")
    assert not failures, "\n".join(failures)


def test_hostile_values_in_the_login_form_and_next_are_not_500(demo: Any) -> None:
    anonymous = Client(raise_request_exception=False)
    for value in ("%00", "al%00ice", "%ED%A0%80", "%FF", quote(OVERSIZE)):
        body = f"username={value}&password=x&next={value}"
        status = anonymous.post("/accounts/login/", data=body, content_type="application/x-www-form-urlencoded")
        assert status.status_code < 500, (value[:20], status.status_code)
    # Signed in, a relative `next` was taken for a URL name (NoReverseMatch, a 500).
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(demo.root)
    response = signed_in.get("/accounts/login/?next=foo")
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_name_that_is_not_utf8_is_refused_never_sent_changed(demo: Any, orgsim_demo: Any) -> None:
    """Django would decode %FF as U+FFFD and the rename would reach AWS with a name nobody typed."""
    transfer = ResponsibilityTransfer.objects.filter(connection=demo.connections[0], status="ACCEPTED").first()
    assert transfer is not None
    orgsim_demo.reset_calls()
    url = f"/transfers/{transfer.pk}/rename/"
    form = demo.client.post(
        url, data=b"name=Q3%FFbilling&confirmed=on", content_type="application/x-www-form-urlencoded"
    )
    assert form.status_code == 400 and "not valid UTF-8" in form.content.decode()
    multipart = demo.client.post(url, {"name": "Q3\ufffdbilling", "confirmed": "on"})  # what Django made of it
    assert multipart.status_code == 400
    transfer.refresh_from_db()
    assert "\ufffd" not in transfer.name
    assert orgsim_demo.calls()["total"] == 0

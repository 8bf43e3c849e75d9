"""Shared fixtures for the whole suite: an orgsim server, AWS connections, and user personas.

AWS state comes from orgsim over HTTP through real boto3, never from mocks. One orgsim server
runs per test session (per xdist worker); every test that asks for it gets a fresh scenario,
no faults and an empty call log.

Fixtures (most tests need only a few):

- ``orgsim_server`` (session): the running orgsim (``sim.endpoint``, ``sim.client(account_id)``...).
- ``orgsim``: the same server, reset to the ``empty`` scenario (no organizations; the account
  ``111111111111`` exists standalone) with faults cleared and the call log emptied.
- ``orgsim_demo``: the same server, reset to the ``demo`` scenario.
- ``make_connection(**fields)``: a factory for ``AwsConnection`` rows with keys credentials
  (the access key id IS the orgsim account id).
- ``connection``: a connection row not bound to a live endpoint — for page/role tests that need
  no AWS. Override it in a module (``def connection(sim_connection): return sim_connection``)
  to give the personas their grants on an orgsim-backed connection instead.
- ``sim_org``: in the ``empty`` scenario, ``111111111111`` creates an organization with all
  features; returns a small ``SimOrg`` (management account id, org id, boto3 client, and
  ``add_member()`` to invite and join a new standalone account).
- ``sim_connection``: an ``AwsConnection`` to ``sim_org``'s management account at orgsim.
- ``make_user(username, *, roles=(), connection=None, superuser=False)``: a user with grants.
- ``personas``: named users on ``connection`` — ``superuser``, ``admin``, ``operator``,
  ``approver``, ``viewer``, ``auditor``, and ``outsider`` (no grant) — plus ``.login(client, name)``.
- ``grant(user, connection, role)``: give one more role.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client

from orgportal.models import AwsConnection, AwsCredentials, CredentialMode, Grant, Role

MANAGEMENT_ACCOUNT_ID = "111111111111"
PASSWORD = "correct-horse-battery-staple"

_names = itertools.count(1)


# --- orgsim -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def orgsim_server() -> Iterator[Any]:
    """One orgsim HTTP server for the session (per xdist worker), empty scenario."""
    from orgsim.testing import running

    with running(scenario="empty", seed=0) as sim:
        yield sim


def _fresh(sim: Any, scenario: str) -> Any:
    sim.reset(scenario)
    sim.clear_faults()
    sim.reset_calls()
    return sim


@pytest.fixture
def orgsim(orgsim_server: Any) -> Iterator[Any]:
    """orgsim with no organizations, no faults and an empty call log."""
    yield _fresh(orgsim_server, "empty")
    orgsim_server.clear_faults()


@pytest.fixture
def orgsim_demo(orgsim_server: Any) -> Iterator[Any]:
    """orgsim with the demo scenario (a few organizations with transfers and handshakes)."""
    yield _fresh(orgsim_server, "demo")
    orgsim_server.clear_faults()


@dataclass
class SimOrg:
    """An organization built through the API in the empty scenario."""

    sim: Any
    management_account_id: str
    organization_id: str
    client: Any  # boto3 Organizations client of the management account
    members: list[str] = field(default_factory=list)
    _next_member: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_member(self) -> str:
        """Invite a new standalone account into this organization and accept; its id."""
        account_id = f"{222222220000 + next(self._next_member):012d}"
        handshake = self.client.invite_account_to_organization(Target={"Id": account_id, "Type": "ACCOUNT"})
        self.sim.client(account_id).accept_handshake(HandshakeId=handshake["Handshake"]["Id"])
        self.members.append(account_id)
        return account_id


def create_org(sim: Any, account_id: str = MANAGEMENT_ACCOUNT_ID) -> SimOrg:
    """Make `account_id` the management account of a new all-features organization in orgsim."""
    client = sim.client(account_id)
    org = client.create_organization(FeatureSet="ALL")["Organization"]
    return SimOrg(sim=sim, management_account_id=account_id, organization_id=org["Id"], client=client)


@pytest.fixture
def sim_org(orgsim: Any) -> SimOrg:
    return create_org(orgsim)


# --- connections ------------------------------------------------------------------------------


def keys_credentials(account_id: str) -> AwsCredentials:
    credentials = AwsCredentials(mode=CredentialMode.KEYS, access_key_id=account_id)
    credentials.secret_access_key = "orgsim-secret"
    credentials.save()
    return credentials


@pytest.fixture
def make_connection(db: None) -> Callable[..., AwsConnection]:
    def make(
        *,
        name: str | None = None,
        account_id: str = MANAGEMENT_ACCOUNT_ID,
        endpoint_url: str = "http://127.0.0.1:9",
        action_account_id: str | None = None,
        **fields: Any,
    ) -> AwsConnection:
        return AwsConnection.objects.create(
            name=name or f"Connection {next(_names)}",
            endpoint_url=endpoint_url,
            read_credentials=keys_credentials(account_id),
            action_credentials=keys_credentials(action_account_id) if action_account_id else None,
            **fields,
        )

    return make


@pytest.fixture
def connection(make_connection: Callable[..., AwsConnection]) -> AwsConnection:
    """A connection row with no live endpoint behind it (pages and roles need no AWS)."""
    return make_connection(name="Acme payer")


@pytest.fixture
def sim_connection(sim_org: SimOrg, make_connection: Callable[..., AwsConnection]) -> AwsConnection:
    """A connection to sim_org's management account at orgsim."""
    return make_connection(
        name="Acme payer (orgsim)", account_id=sim_org.management_account_id, endpoint_url=sim_org.sim.endpoint
    )


# --- users and roles --------------------------------------------------------------------------


def grant(user: AbstractBaseUser, connection: AwsConnection, role: str) -> Grant:
    return Grant.objects.get_or_create(user=user, connection=connection, role=role)[0]


@functools.cache
def _password_hash() -> str:
    return make_password(PASSWORD)


@pytest.fixture
def make_user(db: None) -> Callable[..., AbstractBaseUser]:
    def make(
        username: str,
        *,
        roles: tuple[str, ...] | list[str] = (),
        connection: AwsConnection | None = None,
        superuser: bool = False,
    ) -> AbstractBaseUser:
        model = get_user_model()
        create = model.objects.create_superuser if superuser else model.objects.create_user
        user = create(username, f"{username}@example.com")
        user.password = _password_hash()  # the real hasher, hashed once: PBKDF2 costs ~0.4 s a user
        user.save(update_fields=["password"])
        for role in roles:
            assert connection is not None, "roles need a connection"
            grant(user, connection, role)
        return user

    return make


@dataclass
class Personas:
    """Named users, healthchecks style: each holds exactly the role its name says on `connection`."""

    connection: AwsConnection
    superuser: AbstractBaseUser
    admin: AbstractBaseUser
    operator: AbstractBaseUser
    approver: AbstractBaseUser
    viewer: AbstractBaseUser
    auditor: AbstractBaseUser
    outsider: AbstractBaseUser  # signed in, no grant anywhere

    def login(self, client: Client, name: str) -> Client:
        client.force_login(getattr(self, name))
        return client


@pytest.fixture
def personas(connection: AwsConnection, make_user: Callable[..., AbstractBaseUser]) -> Personas:
    return Personas(
        connection=connection,
        superuser=make_user("root", superuser=True),
        admin=make_user("alice", roles=[Role.ADMIN], connection=connection),
        operator=make_user("oscar", roles=[Role.OPERATOR], connection=connection),
        approver=make_user("april", roles=[Role.APPROVER], connection=connection),
        viewer=make_user("victor", roles=[Role.VIEWER], connection=connection),
        auditor=make_user("audrey", roles=[Role.AUDITOR], connection=connection),
        outsider=make_user("mallory"),
    )


@pytest.fixture(name="grant")
def grant_fixture() -> Callable[[AbstractBaseUser, AwsConnection, str], Grant]:
    return grant

"""Random sequences of calls by random accounts keep orgsim's invariants (hypothesis, stateful).

Invariants after every step, read from the control API's state dump:
- a transfer and its handshake agree (REQUESTED<->open, ACCEPTED<->ACCEPTED or WITHDRAWN, ...);
- statuses move only along allowed edges (closed states never change);
- quotas hold: inbound per payer, one outbound per source, chains no longer than 1.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.orgsim.conftest import make_org, next_month_start

ALLOWED = {
    "REQUESTED": {"REQUESTED", "ACCEPTED", "DECLINED", "CANCELED", "EXPIRED"},
    "ACCEPTED": {"ACCEPTED", "WITHDRAWN"},
    "WITHDRAWN": {"WITHDRAWN"},
    "DECLINED": {"DECLINED"},
    "CANCELED": {"CANCELED"},
    "EXPIRED": {"EXPIRED"},
}
AGREES = {
    "OPEN": {"REQUESTED"},
    "REQUESTED": {"REQUESTED"},
    "ACCEPTED": {"ACCEPTED", "WITHDRAWN"},
    "DECLINED": {"DECLINED"},
    "CANCELED": {"CANCELED"},
    "EXPIRED": {"EXPIRED"},
}
EXPECTED_ERRORS = {
    "AccessDeniedException",
    "HandshakeNotFoundException",
    "HandshakeAlreadyInStateException",
    "InvalidHandshakeTransitionException",
    "ConstraintViolationException",
    "DuplicateHandshakeException",
    "HandshakeConstraintViolationException",
    "InvalidInputException",
    "ResponsibilityTransferNotFoundException",
    "ResponsibilityTransferAlreadyInStatusException",
    "InvalidResponsibilityTransferTransitionException",
}


def test_random_billing_transfer_sequences_keep_invariants(sim: Any) -> None:
    class Transfers(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            sim.reset("empty", seed=0, quotas="default")
            self.orgs = [make_org(sim) for _ in range(4)]
            self.accounts = [o.account_id for o in self.orgs]
            self.handshakes: list[str] = []
            self.transfers: list[str] = []
            self.seen: dict[str, str] = {}

        def _try(self, fn: Any) -> Any:
            try:
                return fn()
            except ClientError as error:
                assert error.response["Error"]["Code"] in EXPECTED_ERRORS, error.response["Error"]
                return None

        @rule(payer=st.integers(0, 3), source=st.integers(0, 3), months=st.integers(1, 3))
        def invite(self, payer: int, source: int, months: int) -> None:
            start = next_month_start(sim.now(), months)
            answer = self._try(
                lambda: self.orgs[payer].client.invite_organization_to_transfer_responsibility(
                    Type="BILLING",
                    Target={"Id": self.accounts[source], "Type": "ACCOUNT"},
                    StartTimestamp=start,
                    SourceName="prop",
                )
            )
            if answer:
                handshake = answer["Handshake"]
                self.handshakes.append(handshake["Id"])
                self.transfers.append(
                    next(r["Value"] for r in handshake["Resources"] if r["Type"] == "RESPONSIBILITY_TRANSFER")
                )

        @rule(
            who=st.integers(0, 3),
            pick=st.integers(0, 50),
            action=st.sampled_from(["accept_handshake", "decline_handshake", "cancel_handshake"]),
        )
        def answer(self, who: int, pick: int, action: str) -> None:
            if self.handshakes:
                hid = self.handshakes[pick % len(self.handshakes)]
                self._try(lambda: getattr(self.orgs[who].client, action)(HandshakeId=hid))

        @rule(who=st.integers(0, 3), pick=st.integers(0, 50))
        def terminate(self, who: int, pick: int) -> None:
            if self.transfers:
                rt = self.transfers[pick % len(self.transfers)]
                self._try(lambda: self.orgs[who].client.terminate_responsibility_transfer(Id=rt))

        @rule(days=st.integers(0, 20))
        def wait(self, days: int) -> None:
            sim.advance(days * 86400)

        @invariant()
        def consistent(self) -> None:
            state = sim.dump()
            handshakes = {h["id"]: h for h in state["handshakes"]}
            now = sim.now()
            for transfer in state["transfers"]:
                previous = self.seen.get(transfer["id"], "REQUESTED")
                assert transfer["status"] in ALLOWED[previous], (previous, transfer["status"])
                self.seen[transfer["id"]] = transfer["status"]
                handshake = handshakes.get(transfer["handshake_id"])
                if handshake is not None:
                    assert transfer["status"] in AGREES[handshake["state"]], (handshake["state"], transfer["status"])

            def in_force(t: dict[str, Any]) -> bool:
                return t["status"] in ("ACCEPTED", "WITHDRAWN") and (t["end_ts"] is None or t["end_ts"] > now)

            for org in {t["target_org_id"] for t in state["transfers"]} | {
                t["source_org_id"] for t in state["transfers"]
            }:
                inbound = [
                    t
                    for t in state["transfers"]
                    if t["target_org_id"] == org and (t["status"] == "REQUESTED" or in_force(t))
                ]
                assert len(inbound) <= 10
                accepted_out = [
                    t for t in state["transfers"] if t["source_org_id"] == org and t["status"] == "ACCEPTED"
                ]
                assert len(accepted_out) <= 1
                paid_for = any(in_force(t) for t in state["transfers"] if t["source_org_id"] == org)
                pays = any(in_force(t) for t in state["transfers"] if t["target_org_id"] == org)
                assert not (paid_for and pays), "a chain longer than the quota of 1"

    run_state_machine_as_test(
        Transfers,
        settings=settings(
            max_examples=12, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )

"""The embedded default's broker (kombu's filesystem transport, made atomic in orgportal/broker.py):
a consumer never reads a message or an exchange table while it is being written, and a torn file
left by a crash is set aside instead of killing the worker ("Unrecoverable error: JSONDecodeError").

Another process may read the broker folder between any two steps of a write. These tests take
that process's place deterministically: an audit hook (PEP 578) runs a consumer at every file
open, lock and rename the publisher makes, so each intermediate state of the folder is read.
"""

from __future__ import annotations

import fcntl
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from typing import Any

import kombu

from orgportal.broker import Transport

# The steps of a write another process can observe in between: each one is announced to audit
# hooks just before it happens.
STEPS = {"open", "fcntl.flock", "os.rename", "os.truncate", "os.remove", "shutil.move"}

_observer: list[Callable[[str], None]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "fcntl.flock" and args[1] & fcntl.LOCK_UN:
        return  # a reader that honours the lock waits for it: nothing new to observe
    if _observer and event in STEPS:
        observe = _observer.pop()  # disarmed while it runs: its own file operations are not steps
        try:
            observe(event)
        finally:
            _observer.append(observe)


sys.addaudithook(_audit)  # once per process; does nothing unless a test arms it


@contextmanager
def at_every_step(observe: Callable[[str], None]) -> Iterator[None]:
    _observer.append(observe)
    try:
        yield
    finally:
        _observer.clear()


def _connection(folder: Path) -> kombu.Connection:
    """A connection to a broker folder laid out as settings.py lays out the embedded one."""
    options = {"data_folder_in": folder / "out", "data_folder_out": folder / "out"}
    options |= {"processed_folder": folder / "processed", "control_folder": folder / "control"}
    for path in options.values():
        path.mkdir(parents=True, exist_ok=True)
    return kombu.Connection(
        "filesystem://localhost//", transport=Transport, transport_options={k: str(v) for k, v in options.items()}
    )


def _name(prefix: str) -> str:
    # kombu keeps declared bindings in process-wide state: a name reused by another test (with
    # another folder) would be taken as bound already.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _drain(queue: Any) -> list[Any]:
    payloads = []
    while True:
        try:
            message = queue.get(block=False)
        except Empty:
            return payloads
        message.ack()
        payloads.append(message.payload)


def test_a_message_is_never_consumed_half_written(tmp_path: Path) -> None:
    payload = {"task": "sync_connection_task", "args": [7], "padding": "x" * 200_000}
    with _connection(tmp_path) as publisher, _connection(tmp_path) as consumer:
        name = _name("sync")
        outbox = publisher.SimpleQueue(name)
        inbox = consumer.SimpleQueue(name)
        seen: list[Any] = []
        errors: list[str] = []

        def consume(step: str) -> None:
            try:
                seen.extend(_drain(inbox))
            except Exception as exc:
                errors.append(f"before {step}: {exc!r}")

        with at_every_step(consume):
            outbox.put(payload)
        assert errors == []
        assert seen + _drain(inbox) == [payload]  # whole, and exactly once
        outbox.close()
        inbox.close()


def test_an_exchange_table_is_never_read_half_written(tmp_path: Path) -> None:
    fanout = kombu.Exchange(_name("broadcast"), type="fanout")
    with _connection(tmp_path) as binder, _connection(tmp_path) as publisher:
        errors: list[str] = []

        def broadcast(step: str) -> None:
            # Publishing to a fanout exchange reads its table: what a worker does for every
            # control message while another process binds a queue.
            try:
                kombu.Producer(publisher.default_channel).publish({"step": step}, exchange=fanout)
            except Exception as exc:
                errors.append(f"before {step}: {exc!r}")

        first = kombu.Queue(_name("first"), fanout)
        second = kombu.Queue(_name("second"), fanout)
        with at_every_step(broadcast):
            first(binder.default_channel).declare()
            second(binder.default_channel).declare()
        assert errors == []
        # Both bindings survive: the second bind rewrote the table without losing the first.
        kombu.Producer(publisher.default_channel).publish({"step": "after"}, exchange=fanout)
        for queue in (first, second):
            with binder.SimpleQueue(queue) as simple:
                assert {"step": "after"} in _drain(simple)


def test_a_torn_message_left_by_a_crash_is_set_aside_and_the_next_one_delivered(tmp_path: Path) -> None:
    with _connection(tmp_path) as connection:
        name = _name("sync")
        queue = connection.SimpleQueue(name)
        # What a publisher killed mid-write (or a power cut) leaves: the start of a message, named
        # to be read before anything else.
        torn = tmp_path / "out" / f"0_{uuid.uuid4()}.{name}.msg"
        torn.write_bytes(b'{"body": "eyJ0YXNrIjog')
        queue.put({"after": "the torn one"})
        assert _drain(queue) == [{"after": "the torn one"}]
        assert not torn.exists()
        kept = [name for name in os.listdir(tmp_path / "processed") if name.endswith(".torn")]
        assert kept == [f"{torn.name}.torn"]  # kept for a human to look at, never consumed again
        assert _drain(queue) == []
        queue.close()

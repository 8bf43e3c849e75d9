"""The embedded default's Celery broker: kombu's filesystem transport, made safe to read while written.

kombu's filesystem transport creates each message file under its final name and then writes it;
a consumer lists the folder, moves the file away and parses it, so it can read a file that is
still empty or half written and die with "Unrecoverable error: JSONDecodeError". Its exchange
tables (the queues bound to a fanout exchange) are truncated by `open("wb")` before their lock is
taken, with the same effect. Here every file is written under a name no reader looks for and
renamed into place (`os.replace` is atomic within a folder), so a reader sees a whole file or
none. Consumers take a message with one `os.rename` into the processed folder (the same file
system: exactly one consumer wins), and a file that still does not parse (left by a crash of an
older publisher, or a power cut) is set aside as `<name>.torn` and logged, never fatal.

Selected by `CELERY_BROKER_TRANSPORT` in settings.py for the embedded default only; Redis is the
broker at scale.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)


def write_atomically(folder: Path, name: str, data: bytes) -> None:
    """Write `folder/name` so that a reader sees either no file or all of `data`.

    The temporary name starts with a dot: no queue's "<ms>_<uuid>.<queue>.msg" pattern matches it.
    """
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the rename must not reach the disk before the bytes do
        os.replace(temporary, folder / name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class Channel(filesystem.Channel):
    """Atomic message and exchange-table writes; a torn file is set aside, not fatal."""

    # kombu's two base classes name the second argument differently; it is passed by position.
    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_atomically(Path(self.data_folder_out), name, str_to_bytes(dumps(message)))
        except OSError as exc:
            raise ChannelError(f"Cannot add message {name!r} to {self.data_folder_out!r}") from exc

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        wanted = f"{queue}.msg"
        inbox = Path(self.data_folder_in)
        taken_folder = Path(self.processed_folder)
        for name in sorted(os.listdir(inbox)):
            if name.partition(".")[2] != wanted:
                continue
            taken = taken_folder / name
            try:
                os.rename(inbox / name, taken)
            except FileNotFoundError:
                continue  # another consumer took it first
            except OSError as exc:  # e.g. the processed folder on another file system
                raise ChannelError(f"Cannot move {name!r} to {taken_folder}") from exc
            try:
                payload = taken.read_bytes()
            except OSError as exc:
                raise ChannelError(f"Cannot read message {taken}") from exc
            try:
                message = loads(bytes_to_str(payload))
            except ValueError:  # JSONDecodeError and UnicodeDecodeError
                log.error("broker message %s does not parse (torn by a crash?); kept as %s.torn", name, taken)
                os.replace(taken, taken.with_name(f"{name}.torn"))
                continue
            if not self.store_processed:
                taken.unlink(missing_ok=True)
            return message
        raise Empty()

    # --- exchange tables: which queues a fanout or topic exchange delivers to ------------------

    def get_table(self, exchange: str) -> list[Any]:
        file = self._exchange_file(exchange)
        try:
            data = file.read_bytes()  # no lock needed: tables are replaced whole, never rewritten
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc
        try:
            return [filesystem.exchange_queue_t(*entry) for entry in loads(bytes_to_str(data))]
        except (ValueError, TypeError):
            # Only an older, non-atomic writer leaves this; each worker binds its queues again
            # when it starts, which rewrites the table.
            log.error("exchange table %s does not parse; treated as empty until the next bind", file)
            return []

    @contextlib.contextmanager
    def _table_lock(self, exchange: str) -> Iterator[Path]:
        """Serialize read-modify-write of one table across processes (readers need no lock)."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        with open(file.with_name(f"{file.name}.lock"), "a") as lock_file:
            filesystem.lock(lock_file, filesystem.LOCK_EX)
            try:
                yield file
            finally:
                filesystem.unlock(lock_file)

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            with self._table_lock(exchange) as file:
                queues = self.get_table(exchange)
                if entry not in queues:
                    write_atomically(file.parent, file.name, str_to_bytes(dumps([entry, *queues])))
        except OSError as exc:
            raise ChannelError(f"Cannot bind {queue!r} to exchange {exchange!r}") from exc

    def _delete(self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any) -> None:
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange) as file:
            queues = self.get_table(exchange)
            if entry in queues:
                queues.remove(entry)
                write_atomically(file.parent, file.name, str_to_bytes(dumps(queues)))


class Transport(filesystem.Transport):
    Channel = Channel

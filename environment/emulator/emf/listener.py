"""The agent's sockets: newline-delimited EMF events over TCP (and UDP), never stopping.

One thread runs a selector over the listening sockets and every connection, so many
concurrent senders cost no threads; each round reads what is ready, splits it into lines,
parses them and hands the batch to the publisher. A line longer than CloudWatch's event limit
is skipped as it arrives (never buffered whole), so a huge event cannot exhaust memory.
Whatever goes wrong with one line (not JSON, no ``_aws``, a broken metric directive) or one
call (a rejected event) is one line in the agent's log file and one count, and the loop goes on.

``settle`` is how tests and checks wait without sleeping: it asks the loop to read until no
socket has anything left, process it all, and only then answer. Bytes a sender has handed to
the kernel before ``settle`` is called are therefore processed before it returns.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .event import MAX_EVENT_BYTES, Event, Malformed, parse
from .publish import Outcome

READ_BYTES = 256 * 1024
FLUSH_EVENTS = 2000  # publish at least this often within one burst
DRAIN_ROUNDS = 100_000  # a bound on settle's reading, never reached by a finite sender
SETTLE_TIMEOUT_S = 60.0  # a safety net for a wedged loop; not a timing assumption
PREVIEW = 160

Publish = Callable[[list[Event]], Outcome]


@dataclass
class _Connection:
    peer: str
    buffer: bytearray = field(default_factory=bytearray)
    skipping: int = 0  # > 0: bytes of an oversized line skipped so far


@dataclass
class Counters:
    lines: int = 0  # non-blank lines received
    stored: int = 0  # log events written
    published: int = 0  # metric values published (a metric with 3 values counts 3)
    malformed: int = 0  # lines not stored at all
    without_metrics: int = 0  # lines stored, metrics not extracted
    rejected: int = 0  # events CloudWatch Logs refused (too old, too new)
    errors: int = 0  # calls that failed
    connections: int = 0


class Agent:
    """The EMF endpoint on ``host:port`` (TCP, plus UDP on the same port when ``udp``)."""

    def __init__(self, host: str, port: int, publish: Publish, log_path: Path,
                 udp: bool = True) -> None:
        self.host, self.port, self.udp = host, port, udp
        self.log_path = log_path
        self.counters = Counters()
        self.error: str | None = None
        self._publish = publish
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._waiters: list[threading.Event] = []
        self._running = False
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._pending: list[Event] = []

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> bool:
        """Bind and start the loop; False (and a line in the log) when the port is taken."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((self.host, self.port))
            tcp.listen(128)
        except OSError as error:
            tcp.close()
            self.error = (f"cannot listen on {self.host}:{self.port} ({error.strerror}); "
                          "another environment's agent may hold it: set LAB_EMF_PORT")
            self._log("ERROR", self.error)
            return False
        tcp.setblocking(False)
        self._selector.register(tcp, selectors.EVENT_READ, "accept")
        if self.udp:
            datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                datagrams.bind((self.host, self.port))
            except OSError as error:  # TCP is what aws-embedded-metrics uses by default
                datagrams.close()
                self.udp = False
                self._log("WARNING", f"no UDP on port {self.port} ({error.strerror}); TCP only")
            else:
                datagrams.setblocking(False)
                self._selector.register(datagrams, selectors.EVENT_READ, "udp")
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="emf-agent", daemon=True)
        self._thread.start()
        self._log("START", f"listening on tcp://{self.host}:{self.port}"
                  + (f" and udp://{self.host}:{self.port}" if self.udp else ""))
        return True

    def stop(self) -> None:
        self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=SETTLE_TIMEOUT_S)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:  # nobody waits for a loop that has stopped
            waiters, self._waiters = self._waiters, []
        for done in waiters:
            done.set()

    @property
    def listening(self) -> bool:
        return self._running

    def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> bool:
        """Return once everything already sent to the agent is processed (False: not running)."""
        if not self._running:
            return False
        done = threading.Event()
        with self._lock:
            self._waiters.append(done)
        self._wake()
        return done.wait(timeout)

    def status(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(vars(self.counters))
        return {"endpoint": f"tcp://{self.host}:{self.port}", "listening": self._running,
                "udp": self.udp, "error": self.error, "log": str(self.log_path), **counts}

    def reset(self) -> None:
        """Zero the counters (the account was reset); the log file keeps its history."""
        with self._lock:
            connections = self.counters.connections
            self.counters = Counters(connections=connections)
        self._log("RESET", "the account was reset: counters start again from zero")

    # --- the loop ---------------------------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _loop(self) -> None:
        while self._running:
            try:
                self._round(None)
                with self._lock:
                    waiting = bool(self._waiters)
                if waiting:
                    self._drain()
            except Exception as error:  # noqa: BLE001 - the agent never stops
                self._log("ERROR", f"the agent's loop recovered from {type(error).__name__}: "
                                   f"{error}")

    def _drain(self) -> None:
        try:
            for _ in range(DRAIN_ROUNDS):
                if not self._round(0):
                    break
            self._flush()
        finally:  # a waiter is always answered, whatever happened to the events
            with self._lock:
                waiters, self._waiters = self._waiters, []
            for done in waiters:
                done.set()

    def _round(self, timeout: float | None) -> bool:
        """Handle every ready socket once; whether any had data (the wake-up aside)."""
        busy = False
        for key, _ in self._selector.select(timeout):
            if key.data == "wake":
                try:
                    self._wake_r.recv(4096)
                except OSError:
                    pass
                continue
            busy = True
            if key.data == "accept":
                self._accept(key.fileobj)
            elif key.data == "udp":
                self._datagram(key.fileobj)
            else:
                self._read(key.fileobj, key.data)
        if len(self._pending) >= FLUSH_EVENTS or timeout is None:
            self._flush()
        return busy

    def _accept(self, server: Any) -> None:
        try:
            conn, address = server.accept()
        except OSError:
            return
        conn.setblocking(False)
        self._selector.register(conn, selectors.EVENT_READ, _Connection(f"{address[0]}:"
                                                                         f"{address[1]}"))
        with self._lock:
            self.counters.connections += 1

    def _datagram(self, sock: Any) -> None:
        try:
            data, address = sock.recvfrom(65_535)
        except OSError:
            return
        for line in data.split(b"\n"):
            self._line(line, f"udp {address[0]}:{address[1]}")

    def _read(self, sock: Any, conn: _Connection) -> None:
        try:
            data = sock.recv(READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the sender closed: its last line may lack a newline
            self._selector.unregister(sock)
            sock.close()
            if conn.buffer and not conn.skipping:
                self._line(bytes(conn.buffer), f"tcp {conn.peer}")
            elif conn.skipping:
                self._oversized(conn)
            return
        while data:
            newline = data.find(b"\n")
            piece, data = (data, b"") if newline < 0 else (data[:newline], data[newline + 1:])
            if conn.skipping:
                conn.skipping += len(piece)
            else:
                conn.buffer += piece
                if len(conn.buffer) > MAX_EVENT_BYTES:
                    conn.skipping = len(conn.buffer)
                    conn.buffer.clear()
            if newline < 0:
                break
            if conn.skipping:
                self._oversized(conn)
            else:
                self._line(bytes(conn.buffer), f"tcp {conn.peer}")
                conn.buffer.clear()

    def _oversized(self, conn: _Connection) -> None:
        self._malformed(f"tcp {conn.peer}", f"the event is {conn.skipping} bytes; CloudWatch "
                                            f"Logs takes at most {MAX_EVENT_BYTES}", b"")
        conn.skipping = 0

    def _line(self, line: bytes, source: str) -> None:
        line = line.rstrip(b"\r")
        if not line.strip():
            return
        with self._lock:
            self.counters.lines += 1
        try:
            event = parse(line)
        except Malformed as problem:
            self._malformed(source, str(problem), line)
            return
        if event.problem:
            with self._lock:
                self.counters.without_metrics += 1
            self._log("NO-METRICS", f"from {source}: stored in {event.log_group}/"
                      f"{event.log_stream} without metrics: {event.problem}")
        self._pending.append(event)

    def _malformed(self, source: str, reason: str, line: bytes) -> None:
        with self._lock:
            self.counters.malformed += 1
            if not line:
                self.counters.lines += 1
        preview = line[:PREVIEW].decode("utf-8", "replace")
        self._log("MALFORMED", f"from {source}: {reason}"
                  + (f"; the line began: {preview!r}" if preview else ""))

    def _flush(self) -> None:
        if not self._pending:
            return
        events, self._pending = self._pending, []
        try:
            outcome = self._publish(events)
        except Exception as error:  # noqa: BLE001 - the agent never stops
            outcome = Outcome(errors=[f"publishing {len(events)} events failed: "
                                      f"{type(error).__name__}: {error}"])
        with self._lock:
            self.counters.stored += outcome.stored
            self.counters.published += outcome.published
            self.counters.rejected += len(outcome.rejected)
            self.counters.errors += len(outcome.errors)
        for line in outcome.rejected:
            self._log("REJECTED", line)
        for line in outcome.errors:
            self._log("ERROR", line)

    def _log(self, kind: str, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._log_lock, self.log_path.open("a", encoding="utf-8") as out:
            out.write(f"{stamp} {kind} {message}\n")

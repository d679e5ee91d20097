"""Fault injection on loopback: an HTTP-aware TCP proxy between the CLI and
Garage that can reset a connection after N bytes, throttle uploads, flip one
byte of a request body in flight, or swallow a response; and it records the
head of every request that passes, so tests can check what was sent.

Rules are plain functions of the request and decide its fate:

    proxy.rule = lambda req: Flip(100) if req.is_part(2) and req.attempt == 1 else None

`req.attempt` counts the requests with the same method and target, so "the
first time only" is easy to say. Nothing here knows S3 beyond the query words
`partNumber` and `uploads`; the proxy forwards bytes and never answers itself,
except with `SlowDown`, a canned 503 in the server's stead.
"""

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import parse_qs, urlsplit

from loopback import AcceptLoop


@dataclass
class Request:
    method: str
    target: str
    headers: dict
    length: int
    attempt: int = 1

    @property
    def query(self) -> dict:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def is_part(self, number: Optional[int] = None) -> bool:
        """An UploadPart request (of part `number`, if given)."""
        parts = self.query.get("partNumber")
        return self.method == "PUT" and bool(parts) and (number is None or parts[0] == str(number))

    def is_object_write(self) -> bool:
        """A PUT carrying object bytes: a part or a single PUT (not a copy)."""
        return self.method == "PUT" and "x-amz-copy-source" not in self.headers


# What a rule can decide for one request.
@dataclass
class Flip:
    """Flip the bits of the body byte at this offset."""
    offset: int


@dataclass
class Reset:
    """Reset both connections after this many body bytes were forwarded."""
    after: int


@dataclass
class Refuse:
    """Reset the connection before anything of the request is forwarded."""


@dataclass
class Throttle:
    """Forward the body at this many bytes a second."""
    rate: int


@dataclass
class Hold:
    """Hold the request until `barrier` (a threading.Barrier) lets it go,
    then forward it: requests of several clients released at one instant."""
    barrier: object


@dataclass
class SlowDown:
    """Answer `503 SlowDown` in the server's stead (the request's body is
    read and dropped, never forwarded): S3's "reduce your request rate"."""


SLOW_DOWN = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
             b"Content-Length: 92\r\n\r\n"
             b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
             b"<Message>Reduce your rate</Message></Error>")


@dataclass
class Swallow:
    """Forward the request, never the response (the client must time out)."""


Rule = Callable[[Request], Optional[object]]


@dataclass
class FaultProxy(AcceptLoop):
    upstream: tuple
    rule: Optional[Rule] = None
    requests: list = field(default_factory=list)
    faults: list = field(default_factory=list)

    def __post_init__(self):
        self.lock = threading.Lock()
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self, rule: Optional[Rule] = None) -> None:
        with self.lock:
            self.rule = rule
            self.requests.clear()
            self.faults.clear()

    def _connection(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=30)
        except OSError:
            hard_close(client)
            return
        swallow = threading.Event()
        back = threading.Thread(target=self._responses, args=(server, client, swallow), daemon=True)
        back.start()
        try:
            self._requests(client, server, swallow)
        except (OSError, ValueError):
            pass
        finally:
            hard_close(client)
            hard_close(server)

    def _requests(self, client, server, swallow) -> None:
        reader = client.makefile("rb")
        while True:
            head = read_head(reader)
            if head is None:
                return
            request = parse_head(head)
            with self.lock:
                request.attempt = 1 + sum(
                    1 for r in self.requests if (r.method, r.target) == (request.method, request.target))
                self.requests.append(request)
                action = self.rule(request) if self.rule else None
                if action is not None:
                    self.faults.append((request, action))
            if isinstance(action, Refuse):
                return
            if isinstance(action, Hold):
                try:
                    action.barrier.wait()
                except threading.BrokenBarrierError:
                    pass
            if isinstance(action, SlowDown):
                if "100-continue" in request.headers.get("expect", ""):
                    client.sendall(SLOW_DOWN)  # the body never comes: end here
                    return
                _drain(reader, request.length)
                client.sendall(SLOW_DOWN)
                continue
            if isinstance(action, Swallow):
                swallow.set()
            server.sendall(head)
            if not self._body(reader, server, request.length, action):
                return

    def _body(self, reader, server, length: int, action) -> bool:
        """Forwards one body; False when the connection was reset on purpose."""
        sent = 0
        while sent < length:
            want = min(64 * 1024, length - sent)
            if isinstance(action, Throttle):
                want = min(want, max(1, action.rate // 20))
            if isinstance(action, Reset):
                want = min(want, action.after - sent)
                if want <= 0:
                    return False
            chunk = reader.read(want)
            if not chunk:
                raise ValueError("client closed mid-body")
            if isinstance(action, Flip) and sent <= action.offset < sent + len(chunk):
                i = action.offset - sent
                chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1:]
            server.sendall(chunk)
            sent += len(chunk)
            if isinstance(action, Throttle):
                time.sleep(len(chunk) / action.rate)
        if isinstance(action, Reset) and action.after <= sent:
            return False
        return True

    def _responses(self, server, client, swallow) -> None:
        try:
            while True:
                data = server.recv(64 * 1024)
                if not data:
                    break
                if not swallow.is_set():
                    client.sendall(data)
        except OSError:
            pass
        finally:
            if not swallow.is_set():
                hard_close(client)


def _drain(reader, length: int) -> None:
    while length > 0:
        chunk = reader.read(min(64 * 1024, length))
        if not chunk:
            raise ValueError("client closed mid-body")
        length -= len(chunk)


def read_head(reader) -> Optional[bytes]:
    lines = []
    while True:
        line = reader.readline(65536)
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def parse_head(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", ""):
        raise ValueError("chunked request bodies are not supported by this proxy")
    return Request(method, target, headers, int(headers.get("content-length", 0)))


def hard_close(sock: socket.socket) -> None:
    """Close with a TCP reset, as a dropped connection looks to the peer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass

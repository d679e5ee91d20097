"""A real HTTP server standing in for the admin API: it records every request
and answers as told: `ok`, `401`, `409`, `500`, `503-then-200`, `hang` (never
in time), `hang-then-ok` (the first request never in time, then 201), and
`slow-ok` / `slow-401` (after SLOW seconds, so a test can act meanwhile)."""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW = 2.0


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class AdminApi:
    def __init__(self):
        self.requests: list[Request] = []
        self.mode = "ok"
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with api.lock:
                    api.requests.append(
                        Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    count = len(api.requests)
                    mode = api.mode
                status = {
                    "ok": 201,
                    "401": 401,
                    "409": 409,
                    "500": 500,
                    "503-then-200": 503 if count == 1 else 200,
                    "hang-then-ok": 201,
                    "slow-ok": 201,
                    "slow-401": 401,
                }.get(mode)
                if mode == "hang" or (mode == "hang-then-ok" and count == 1):
                    time.sleep(30)
                    return
                if mode.startswith("slow-"):
                    time.sleep(SLOW)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                reply = b'{"id": 1}' if status < 300 else b'{"error": "no"}'
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "AdminApi":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self, mode: str = "ok") -> None:
        with self.lock:
            self.requests.clear()
            self.mode = mode

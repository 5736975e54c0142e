"""A registry with a fault switch: a real `docker-registry` on its own port and storage, behind a
small HTTP proxy that logs every request and, once armed, breaks from the Nth matching request
on: the connection reset (the registry stopped), HTTP 500, or an answer held back (slow, or
never given)."""

from __future__ import annotations

import http.client
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

Mode = Literal["reset", "500", "slow", "stop"]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Fault:
    """From the `nth` `method` request whose path matches on, every request (`lasting`) or
    every matching one breaks. "slow" holds each answer `delay` s, or until the fault is
    disarmed: then the connection is reset, as by a registry that never answered."""

    method: str
    path: re.Pattern[str]
    mode: Mode
    nth: int = 1
    delay: float = 0.0
    lasting: bool = True
    seen: int = 0
    tripped: bool = False
    disarmed: threading.Event = field(default_factory=threading.Event)


@dataclass
class FaultyRegistry:
    """`address` is the proxy's: point the image at it. `log` holds "METHOD path" per request."""

    storage: Path
    upstream_port: int = field(default_factory=free_port)
    log: list[str] = field(default_factory=list)
    fault: Fault | None = None
    process: subprocess.Popen[bytes] | None = None
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_address[1]}"

    def start_registry(self) -> None:
        config = self.storage.parent / f"{self.storage.name}.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.storage}\n"
            f"http:\n  addr: 127.0.0.1:{self.upstream_port}\n"
        )
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.upstream_port}/v2/", timeout=1)
                return
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the fault-matrix registry never answered") from None
                time.sleep(0.1)

    def stop_registry(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def start(self) -> None:
        self.storage.mkdir(parents=True, exist_ok=True)
        self.start_registry()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Docker tries TLS first on a loopback registry and falls back to plain HTTP only
            # when the refusal of its handshake starts with "HTTP/", which 0.9 leaves out.
            default_request_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:
                return

            def relay(self) -> None:
                body = self.body()
                mode = owner.decide(self.command, self.path)
                if mode == "reset":
                    # SO_LINGER 0: the client sees a reset, as from a registry that went away.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                if mode == "500":
                    self.answer(500, {"Content-Type": "text/plain"}, b"internal server error\n")
                    return
                fault = owner.fault
                if mode == "slow" and fault is not None and fault.disarmed.wait(fault.delay):
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                self.forward(body)

            def body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def forward(self, body: bytes) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection("127.0.0.1", owner.upstream_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                except OSError:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                finally:
                    upstream.close()
                kept = {k: v for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP}
                length = kept.pop("Content-Length", str(len(data)))
                self.answer(answer.status, kept, data, self.command == "HEAD", length)

            def answer(
                self,
                status: int,
                headers: dict[str, str],
                data: bytes,
                head: bool = False,
                length: str = "",
            ) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                # A HEAD answer has no body but says the size of the one a GET would have.
                self.send_header("Content-Length", length if head else str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = relay  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def decide(self, method: str, path: str) -> Mode | None:
        """Log the request; the fault's mode once it tripped (it stays tripped), else None."""
        with self.lock:
            self.log.append(f"{method} {path}")
            fault = self.fault
            if fault is None:
                return None
            matches = method == fault.method and bool(fault.path.search(path))
            if not fault.tripped and matches:
                fault.seen += 1
                fault.tripped = fault.seen >= fault.nth
                if fault.tripped and fault.mode == "stop":
                    self.stop_registry()
            if not fault.tripped or not (fault.lasting or matches):
                return None
            return None if fault.mode == "stop" else fault.mode

    def arm(self, fault: Fault | None) -> None:
        with self.lock:
            if self.fault is not None:
                self.fault.disarmed.set()
            self.fault = fault
        if fault is None and (self.process is None or self.process.poll() is not None):
            self.start_registry()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.stop_registry()

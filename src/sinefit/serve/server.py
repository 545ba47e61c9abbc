"""Start and stop the playground on a socket: ``sinefit serve`` blocks, the tests run it in a thread."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), so the URL is known before the server starts.

    Made with ``IPPROTO_TCP`` as its protocol: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    sockets whose ``proto`` says TCP, and the accepted connections inherit the listener's 0. With Nagle
    on, uvicorn's two writes of an answer (its head, then its body) met the browser's delayed ACK: every
    answer on a kept-alive connection waited ~40 ms (a 404 took 44 ms; 1 ms without)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def one_blas_thread():
    """Limit BLAS to one thread while the playground serves; returns the limiter (``.restore_original_limits()``).

    Its matrices are at most 21 wide: threads cannot speed them up, and on a loaded machine
    OpenBLAS's threads wait for each other (an SVD of 1000 x 16 took 170 ms with two threads
    under load, 0.4 ms with one). None when threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=1, user_api="blas")


@dataclass
class Running:
    """A playground serving in a background thread."""

    url: str
    port: int
    server: object
    thread: threading.Thread
    sock: socket.socket = field(repr=False)
    limits: object = field(default=None, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
        if self.limits is not None:
            self.limits.restore_original_limits()


def _server(sock: socket.socket, port: int, quiet: bool):
    import uvicorn

    from .app import create_app

    config = uvicorn.Config(create_app(port), log_level="warning" if quiet else "info", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=2)  # fmt: skip
    return uvicorn.Server(config)


def start(host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> Running:
    """Serve in a thread until ``stop()``; returns once the server accepts connections."""
    sock = bind(host, port)
    port = sock.getsockname()[1]
    server = _server(sock, port, quiet)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="sinefit-serve")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the playground server did not start")
        time.sleep(0.02)
    return Running(url_for(host, port), port, server, thread, sock, one_blas_thread())


def serve_forever(host: str, port: int, on_ready=None) -> None:
    """Block serving (Ctrl-C stops it); ``on_ready(url)`` once the socket listens."""
    sock = bind(host, port)
    port = sock.getsockname()[1]
    server = _server(sock, port, quiet=True)
    one_blas_thread()  # for the whole process: it only serves
    if on_ready is not None:
        on_ready(url_for(host, port))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()

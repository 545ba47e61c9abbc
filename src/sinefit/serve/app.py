"""The ASGI app: thin wrappers over ``core``, behind Host/Origin checks and size limits.

Every answer is JSON, a static file or a stream of frames (server-sent events); bad input is a 400 with sinefit's one-line message and
the control it belongs to; anything unexpected is a 500 with one line, never a traceback, and
the server keeps serving. Each request carries the page's whole state (the URL's settings),
so two tabs never share anything but the cache of solved problems, which is keyed by content.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import InputError
from . import core, stream, uploads

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("sinefit.serve")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'",
}


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, allow_nan=False), status, media_type="application/json")


def _error(e: Exception, status: int) -> Response:
    return _json({"error": str(e).splitlines()[0] if str(e) else type(e).__name__, "field": core.field_of(e)}, status)


def host_allowed(host: str, port: int) -> bool:
    """A Host header names this server only as localhost or an IP literal, with its port: a DNS name
    (how a rebinding page reaches 127.0.0.1) is refused."""
    name, sep, given_port = host.rpartition(":")
    if not sep or given_port != str(port):
        return False
    if name.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(name[1:-1] if name.startswith("[") and name.endswith("]") else name)
    except ValueError:
        return False
    return True


class Guard:
    """ASGI middleware: refuse requests whose Host is not this server, or whose Origin is another page."""

    def __init__(self, app, port: int | None = None):
        self.app = app
        self.port = port

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        port = self.port if self.port is not None else (scope.get("server") or (None, 0))[1]
        host = headers.get("host", "")
        problem = None
        if not host_allowed(host, port):
            problem = f"Host {host!r} is not this server (sinefit serve answers only to localhost or an IP address)"
        elif "origin" in headers and headers["origin"] != f"http://{host}":
            problem = f"a page from {headers['origin']!r} may not use this server"
        if problem is not None:
            response = PlainTextResponse(f"sinefit serve: refused: {problem}\n", 403)
            return await response(scope, receive, send)
        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(k.lower().encode(), v.encode())
                                                                 for k, v in HEADERS.items()]  # fmt: skip
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def create_app(port: int | None = None, store: uploads.Store | None = None,
               cache: core.ProblemCache | None = None) -> Guard:  # fmt: skip
    """The playground app; ``port`` is the one Host headers must name (default: the socket's)."""
    store = store if store is not None else uploads.Store()
    cache = cache if cache is not None else core.ProblemCache()
    runs, streams, latest = core.RunCache(), stream.Streams(), stream.Streams()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def fit(request: Request) -> Response:
        arrived = time.perf_counter()
        try:
            query = dict(request.query_params)
            have = query.pop("have", None)  # the problem the page holds already
            client = query.pop("client", None)
            token = latest.open(client) if client else None

            spent = []

            def timed():
                started = time.perf_counter()
                try:
                    return core.view(query, store, cache, runs, have)
                finally:
                    spent.append(time.perf_counter() - started)

            def answer():
                if not client:
                    return timed()
                # a slider dragged fast sends many requests: a tab's run one at a time, and one that a
                # newer one of its tab overtook while it waited is not computed (the page dropped it)
                with latest.serial(client):
                    if not latest.is_current(client, token):
                        return None
                    return timed()

            body = await run_in_threadpool(answer)
            if body is None:
                return _json({"error": "superseded by a newer request of this page", "field": "general"}, 409)
            response = _json(body)
            # the page's latency trace splits its wait into this server's work and the rest (network, browser)
            response.headers["Server-Timing"] = (f"view;dur={1e3 * spent[0]:.2f}, "
                                                 f"app;dur={1e3 * (time.perf_counter() - arrived):.2f}")
            return response
        except InputError as e:
            return _error(e, 400)
        except Exception as e:  # a bug: one line for the page, the details in the server's log
            log.exception("internal error on %s", request.url.path)
            return _error(RuntimeError(f"internal error: {type(e).__name__}: {e}"), 500)

    async def stream_(request: Request) -> Response:
        """Server-sent events: the frames of the run from a step on, paced (see ``stream``)."""
        try:
            r, steps, control = await run_in_threadpool(core.frames, dict(request.query_params), store, cache, runs)
        except InputError as e:
            return _error(e, 400)
        except Exception as e:
            log.exception("internal error on %s", request.url.path)
            return _error(RuntimeError(f"internal error: {type(e).__name__}: {e}"), 500)
        token = streams.open(control["client"])
        events = stream.paced(r.path, r.result.losses, steps, control["fps"], streams, control["client"], token)
        return StreamingResponse(events, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    async def frames(request: Request) -> Response:
        """The same frames at once, as JSON (the page's single step)."""
        try:
            r, steps, _ = await run_in_threadpool(core.frames, dict(request.query_params), store, cache, runs)
            return _json({"frames": stream.frames(r.path, r.result.losses, steps), "end": r.path.end})
        except InputError as e:
            return _error(e, 400)
        except Exception as e:
            log.exception("internal error on %s", request.url.path)
            return _error(RuntimeError(f"internal error: {type(e).__name__}: {e}"), 500)

    async def upload(request: Request) -> Response:
        name = request.query_params.get("name", "upload")
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > uploads.MAX_UPLOAD_BYTES:
                raise uploads.UploadError(f"{name}: {declared} bytes is over the playground's upload limit of "
                                          f"{uploads.MAX_UPLOAD_BYTES >> 20} MiB")  # fmt: skip
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > uploads.MAX_UPLOAD_BYTES:
                    raise uploads.UploadError(f"{name}: over the playground's upload limit of "
                                              f"{uploads.MAX_UPLOAD_BYTES >> 20} MiB")  # fmt: skip
            return _json(await run_in_threadpool(core.upload, name, bytes(body), store))
        except InputError as e:
            return _error(e, 400)
        except Exception as e:
            log.exception("internal error on %s", request.url.path)
            return _error(RuntimeError(f"internal error: {type(e).__name__}: {e}"), 500)

    async def not_found(request: Request, exc) -> Response:
        return _json({"error": f"no such page: {request.url.path}", "field": "general"}, 404)

    async def server_error(request: Request, exc) -> Response:
        return _json({"error": "internal error", "field": "general"}, 500)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/fit", fit),
            Route("/api/stream", stream_),
            Route("/api/frames", frames),
            Route("/api/upload", upload, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={404: not_found, 500: server_error},
    )
    guard = Guard(app, port)
    guard.latest = latest  # each tab's newest request (the tests watch it)
    return guard

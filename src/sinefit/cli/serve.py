"""`sinefit serve`."""

from __future__ import annotations

import signal
import sys
import warnings
from typing import Annotated

from .. import interrupts
from .common import Failure
from .options import Opt


def serve(
    port: Annotated[int, Opt(help="Port to listen on (0: any free port).")] = 8000,
    host: Annotated[str, Opt(help="Address to bind; anything but 127.0.0.1 / localhost lets other machines in.")] = "127.0.0.1",
    open_: Annotated[bool, Opt("--open", help="Also open the page in the default web browser.")] = False,
) -> None:
    """The playground: gradient descent you can play with in the browser (pip install 'sinefit\\[serve]')."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise Failure("sinefit serve needs the serve extra: pip install 'sinefit[serve]'") from None
    from ..config import ConfigError
    from ..serve import server

    if not 0 <= port <= 65535:
        raise ConfigError("--port", f"must be 0 to 65535, got {port}")
    if not server.is_loopback(host):
        print(f"sinefit: warning: --host {host}: the playground is reachable from other machines; it has no "
              "login, so bind 127.0.0.1 unless you mean it", file=sys.stderr)  # fmt: skip

    def ready(url: str) -> None:
        interrupts.enter("serving")
        print(f"sinefit playground: {url}  (Ctrl-C stops it)", flush=True)
        if open_:
            import webbrowser

            webbrowser.open(url)

    # A stop before the event loop has started the server leaves its coroutine unawaited: nothing leaked
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    try:
        server.serve_forever(host, port, ready)
    except interrupts.Stopped as e:
        if e.phase != "serving":
            raise
        # Ctrl-C (or SIGTERM) is how a playground ends: said as such, exit 0, not an error "while starting"
        print(f"sinefit playground: stopped ({signal.Signals(e.signum).name})", flush=True)
    except OSError as e:
        raise Failure(f"cannot listen on {host}:{port}: {e.strerror or e}") from None

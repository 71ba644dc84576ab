"""httpx, without its command-line module.

`import httpx` also imports `httpx._main` (its CLI), which pulls in click, rich and
pygments when they are installed, as they are beside Textual: about 50 ms of a
100 ms import, measured with `python -X importtime -c "import httpx"`, and UI code
inside the engine. Baton never uses that CLI, so a stand-in is registered first.
"""

from __future__ import annotations

import sys
import types

if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    _stub = types.ModuleType("httpx._main")

    def main() -> None:  # the real one needs the httpx[cli] extra anyway
        raise SystemExit("httpx's command line is not available inside Baton")

    _stub.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = _stub

import functools  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import httpx  # noqa: E402

if TYPE_CHECKING:
    from tui.core.providers.tls import LazyTrustContext

__all__ = ["httpx", "ssl_context"]


@functools.cache
def ssl_context() -> LazyTrustContext:
    """One TLS context for every client, verifying as httpx's default does. Reading the CA
    bundle (20-100 ms) waits for the first TLS handshake, which a plain-http endpoint
    never makes; `ssl_context().load_trust()` reads it ahead."""
    from tui.core.providers.tls import verifying_context

    return verifying_context()

"""The TLS context of Baton's HTTP clients: httpx's default verification, with the trust
store read at the first TLS handshake instead of when the client is made.

Reading the CA bundle takes 15-40 ms, a tenth of a short `baton ask`; a run that only
talks to a plain-http endpoint (Ollama, a local proxy, the benchmarks' server) never
needs it. What is verified does not change: certificates are required, host names are
checked, and the bundle is the one httpx would load (`SSL_CERT_FILE`, `SSL_CERT_DIR`,
else certifi's).
"""

from __future__ import annotations

import os
import ssl
import sys
import threading
from typing import Any


class LazyTrustContext(ssl.SSLContext):
    """An `ssl.create_default_context()` for server authentication whose verify
    locations are loaded just before the first socket or BIO is wrapped."""

    _trust_loaded = False
    _trust_lock = threading.Lock()

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.load_trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.load_trust()
        return super().wrap_bio(*args, **kwargs)

    def load_trust(self) -> None:
        """Read the trust store now (once; later calls return at once)."""
        if self._trust_loaded:
            return
        with self._trust_lock:
            if self._trust_loaded:
                return
            if os.environ.get("SSL_CERT_FILE"):  # what httpx does with trust_env (its default)
                self.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                self.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi

                self.load_verify_locations(cafile=certifi.where())
            self._trust_loaded = True


def verifying_context() -> LazyTrustContext:
    """A new context that requires certificates and checks host names (as
    `ssl.create_default_context` makes it), its trust store loaded on first use."""
    context = LazyTrustContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment:
        context.keylog_filename = keylog
    return context

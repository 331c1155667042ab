"""A local Bot Framework token issuer: OpenID metadata and JWKS on 127.0.0.1, tokens signed with a fresh key.

botbuilder fetches signing keys with blocking ``requests.get``, so this server runs in its own
thread: an aiohttp server on the test's event loop could never answer while the loop waits.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeTokenIssuer:
    """Serve ``/.well-known/openid-configuration`` and ``/keys``; sign tokens as the Bot Connector would."""

    def __init__(self, *, endorsements: tuple[str, ...] = ("msteams",)) -> None:
        self.key = new_key()
        self.kid = uuid.uuid4().hex
        self.endorsements = list(endorsements)
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def metadata_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/openid-configuration"

    def _jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "endorsements": self.endorsements}]}

    def start(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                issuer.requests.append(self.path)
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": ISSUER, "jwks_uri": f"{base}/keys", "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path == "/keys":
                    body = issuer._jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def token(self, *, audience: str, service_url: str, key: rsa.RSAPrivateKey | None = None, kid: str | None = None,
              issuer: str = ISSUER, expires_in: int = 3600) -> str:
        """Return a signed channel token; pass another key or kid to forge one."""
        now = int(time.time())
        claims = {"iss": issuer, "aud": audience, "serviceurl": service_url, "nbf": now - 60, "iat": now - 60,
                  "exp": now + expires_in}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

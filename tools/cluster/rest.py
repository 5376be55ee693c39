"""A minimal, synchronous client of the Kubernetes REST API (stdlib ``urllib``), for set-up code.

The control plane's tooling needs a handful of requests (health checks, a TokenRequest, a status
patch, waiting for a CRD) before any Python client library could be assumed; tests use kubectl
and kubernetes-asyncio instead. `Rest` verifies the server against the cluster CA and sends a
bearer token; an HTTP error raises `HttpError` with the status code and the server's message.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["HttpError", "Rest"]


class HttpError(Exception):
    """The server answered with an error status (``code``) or not at all (``code`` 0)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"HTTP {code}: {message}" if code else message)
        self.code = code


class Rest:
    """Requests to ``server`` with ``token``, trusting ``ca`` (None: no verification)."""

    def __init__(self, server: str, *, token: str | None, ca: Path | None) -> None:
        self.server = server.rstrip("/")
        self.token = token
        if ca is None:
            self.context = ssl.create_default_context()
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        else:
            self.context = ssl.create_default_context(cafile=str(ca))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        timeout: float = 10.0,
        raw: bool = False,
    ) -> Any:
        """Send one request; the decoded JSON answer (the text when ``raw``)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.context) as answer:
                text = answer.read().decode()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("message", detail)
            raise HttpError(error.code, f"{method} {path}: {detail.strip()}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise HttpError(0, f"{method} {path}: {reason}") from None
        if raw:
            return text
        return json.loads(text) if text else {}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any, *, content_type: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, content_type=content_type, **kwargs)

    def ok(self, path: str, *, timeout: float = 3.0) -> bool:
        """``path`` answers 200 ``ok`` (a health endpoint)."""
        try:
            return self.request("GET", path, timeout=timeout, raw=True).strip() == "ok"
        except HttpError:
            return False

    def wait_ok(self, path: str, *, timeout: float, what: str) -> None:
        """Poll `ok` until it holds; TimeoutError naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.ok(path):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{what} not healthy after {timeout:.0f} s ({self.server}{path})"
                )
            time.sleep(0.2)

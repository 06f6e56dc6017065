"""Signing, CSRF tokens, safe redirects and login pacing. No aiohttp here: plain functions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class Signer:
    """HMAC-SHA256 signatures with a purpose, so a value signed for one use is refused for another."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("kinship-dashboard|" + secret).encode()).digest()

    def _mac(self, purpose: str, payload: bytes) -> str:
        digest = hmac.new(self._key, purpose.encode() + b"|" + payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, purpose: str, data: Any) -> str:
        """``data`` (JSON-able) as ``payload.signature``."""
        payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(purpose, payload.encode())}"

    def unsign(self, purpose: str, value: str | None) -> Any:
        """The data of a value :meth:`sign` made for ``purpose``; ``None`` when tampered, foreign or malformed."""
        if not value or value.count(".") != 1 or len(value) > 8192:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, payload.encode())):
            return None
        try:
            return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, UnicodeDecodeError):
            return None

    def token(self, purpose: str, subject: str) -> str:
        """A deterministic token bound to ``subject`` (e.g. the CSRF token of a session)."""
        return self._mac(purpose, subject.encode())

    def check_token(self, purpose: str, subject: str, given: str | None) -> bool:
        """Whether ``given`` is :meth:`token` of ``subject`` (constant time)."""
        return bool(given) and hmac.compare_digest(str(given), self.token(purpose, subject))


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a local path may follow login: ``/g/1/reports`` yes; ``//evil``, ``https://evil``,
    ``/\\evil`` and anything with a scheme or host no. (No open redirect.)"""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\\\r\n\t") or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target[:500]


@dataclass
class Pacer:
    """At most ``limit`` attempts per ``window`` seconds per key (e.g. the client's address), and
    ``global_limit`` in all. ``clock`` is monotonic seconds (a test passes its own)."""

    limit: int = 10
    window: float = 300.0
    global_limit: int = 120
    clock: Any = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)

    def _trim(self, hits: deque[float], now: float) -> None:
        while hits and hits[0] <= now - self.window:
            hits.popleft()

    def attempt(self, key: str) -> float:
        """Record an attempt; returns 0 when allowed, else the seconds to wait."""
        now = self.clock()
        self._trim(self._all, now)
        hits = self._hits.setdefault(key, deque())
        self._trim(hits, now)
        if len(hits) >= self.limit:
            return max(1.0, hits[0] + self.window - now)
        if len(self._all) >= self.global_limit:
            return max(1.0, self._all[0] + self.window - now)
        hits.append(now)
        self._all.append(now)
        if len(self._hits) > 10_000:  # forget idle addresses
            for k in [k for k, v in self._hits.items() if not v]:
                del self._hits[k]
        return 0.0

"""A small fixed-window rate limiter on the Django cache (Redis in production, files on a
laptop), for the pages anyone may post to without an account.

A window is one cache key per client and period, `ratelimit:<scope>:<client>:<period>`,
counted with `add` + `incr` (atomic on Redis) and expiring by itself with its window.
Fixed windows let a client through at most twice the limit around a window's edge, which
is fine for keeping spam robots out and costs one round trip per counted request.
"""

import ipaddress
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)
# The clock windows are counted on; tests pin it so no window ends in mid-test.
_clock = time.time


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds until the window ends; 0 when allowed


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` counted requests per `window` seconds from one client."""

    scope: str
    limit: int
    window: int

    def _key(self, client: str, now: float) -> str:
        return f"ratelimit:{self.scope}:{client}:{int(now // self.window)}"

    def hit(self, client: str) -> Decision:
        """Count one request from `client` and say whether it is within the limit.

        If the cache is down the request is let through: a broken cache must not take
        the public form down with it."""
        now = _clock()
        key = self._key(client, now)
        try:
            cache.add(key, 0, timeout=self.window + 1)
            count = cache.incr(key)
        except Exception:  # any cache failure: fail open, but say so in the log
            logger.warning("rate limit %s: cache unavailable, request let through", self.scope)
            return Decision(allowed=True, retry_after=0)
        if count <= self.limit:
            return Decision(allowed=True, retry_after=0)
        retry_after = int(self.window - now % self.window) + 1
        return Decision(allowed=False, retry_after=retry_after)

    def reset(self, client: str) -> None:
        """Forget the current window of `client` (for tests and admins)."""
        cache.delete(self._key(client, _clock()))


def public_submit_limit() -> RateLimit:
    """The limit on the public ticket form, read from settings on each use."""
    return RateLimit(
        scope="public-submit",
        limit=settings.PUBLIC_SUBMIT_RATE_LIMIT,
        window=settings.PUBLIC_SUBMIT_RATE_WINDOW,
    )


def client_address(request) -> str:
    """Who is asking, for rate limiting: the peer address, or, behind the TLS proxy the
    operator told us to trust (SECURE_PROXY_SSL_HEADER), the last X-Forwarded-For entry,
    the one that proxy appended (entries to its left are the client's own claims).

    IPv6 clients are counted per /64, the block one household or host usually holds."""
    address = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            address = forwarded.split(",")[-1].strip()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)

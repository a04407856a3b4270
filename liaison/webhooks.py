"""Outgoing webhooks: what is sent, how it is signed, where it may go, and how it gets there.

A webhook is a customer's URL, told of the events it chose, globally or for one project.
Each event becomes one `WebhookDelivery` row per webhook (unique per webhook and cause, so
a replayed event is never sent twice), created after the change committed and sent by the
`liaison.webhooks.deliver` task. A failed attempt is retried with exponential backoff (the
task schedules itself with a countdown; a beat sweep re-drives any due delivery whose task
was lost) and after MAX_ATTEMPTS the delivery is marked failed; admin shows the log and
can send a delivery again.

The body is JSON: {"event", "id", "created_at", "data"}. `id` is the cause's key, the same
for every webhook and every retry, so receivers can drop duplicates. Headers:
`X-Bridgedesk-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the webhook's
secret>`, `X-Bridgedesk-Event`, `X-Bridgedesk-Delivery` and `X-Bridgedesk-Timestamp` (when
this attempt was made; the signed body carries `created_at` for freshness checks).

Server-side request forgery: a target must be http(s) and every address its host resolves
to must be a public internet address (no loopback, private, link-local, multicast,
reserved, unspecified, shared or documentation ranges, IPv4 or IPv6, nor IPv6 forms that
embed such an IPv4 address). That is checked when a webhook is saved and again at each
attempt, and the connection goes to the very address that was checked (the Host header and
TLS name stay the URL's), so a name re-pointed after the check (DNS rebinding) gains
nothing. Redirects are not followed.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import socket
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import urllib3
from celery import shared_task
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.queueing import enqueue
from liaison.models import Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

Event = Webhook.Event
SIGNATURE_HEADER = "X-Bridgedesk-Signature"
EVENT_HEADER = "X-Bridgedesk-Event"
DELIVERY_HEADER = "X-Bridgedesk-Delivery"
TIMESTAMP_HEADER = "X-Bridgedesk-Timestamp"
USER_AGENT = "Bridgedesk-Webhooks/1"

# Attempts before a delivery is given up: 1 min, 3 min, 9 min … capped at 6 h between
# attempts, about half a day in all.
MAX_ATTEMPTS = 8
BACKOFF_FIRST_SECONDS = 60
BACKOFF_FACTOR = 3
BACKOFF_MAX_SECONDS = 6 * 60 * 60
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10
# A claimed attempt owns the row this long (longer than any attempt can take); a worker
# that dies mid-attempt leaves it to the sweep after that.
LEASE = timedelta(seconds=CONNECT_TIMEOUT + READ_TIMEOUT + 45)
# The sweep leaves a fresh delivery this long to the task enqueued with it.
SWEEP_GRACE = timedelta(seconds=30)
ERROR_CHARS = 500


# ---------------------------------------------------------------------------- SSRF guard

# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052/8215).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for: mapped (::ffff:a.b.c.d), the old
    compatible form (::a.b.c.d), 6to4, Teredo and NAT64."""
    found = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if int(ip) >> 32 == 0:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if any(ip in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def refused_address(address: str) -> str:
    """Why `address` may not be a webhook target ("" if it may): the kind of address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return "not an IP address"
    candidates = [ip]
    if ip.version == 6:
        candidates += _embedded_ipv4(ip)
    for candidate in candidates:
        for kind, test in (
            ("an unspecified", candidate.is_unspecified),
            ("a loopback", candidate.is_loopback),
            ("a link-local", candidate.is_link_local),
            ("a multicast", candidate.is_multicast),
            ("a private", candidate.is_private),
            ("a reserved", candidate.is_reserved),
            ("a non-public", not candidate.is_global),
        ):
            if test:
                return f"{kind} address ({candidate})"
    return ""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the seam tests replace: DNS is the world's)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass(frozen=True)
class Target:
    """A checked destination: where to connect (addresses) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def check_target(url: str) -> Target:
    """The URL as a Target whose every address is public, or ValidationError saying why
    not. Resolves the host name: call it when saving and again before each attempt."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise ValidationError(f"This is not a valid URL: {error}.", code="invalid") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError("A webhook URL must start with https:// or http://.", code="scheme")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValidationError("The URL has no host name.", code="invalid")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "Leave user names and passwords out of the URL: receivers check the signature.",
            code="credentials",
        )
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            raise ValidationError(
                f"“{host}” does not resolve to an address; check the host name.", code="dns"
            ) from None
    if not addresses:
        raise ValidationError(f"“{host}” does not resolve to an address.", code="dns")
    for address in addresses:
        reason = refused_address(address)
        if reason:
            raise ValidationError(
                f"Webhooks may only go to public internet addresses; “{host}” is {reason}.",
                code="ssrf",
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, tuple(addresses))


def validate_webhook_url(url: str) -> None:
    """The check for forms, model clean and any API: raises ValidationError."""
    check_target(url)


# ---------------------------------------------------------------------------- payloads


def signature_for(secret: str, body: bytes) -> str:
    """The signature header's value: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(payload: dict) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys, so a retry sends
    the same bytes and the same signature."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def envelope(event: str, key: str, created_at, data: dict) -> dict:
    return {"event": event, "id": key, "created_at": created_at.isoformat(), "data": data}


def project_data(project) -> dict:
    from django.conf import settings
    from django.urls import reverse

    return {
        "id": project.pk,
        "key": project.key,
        "name": project.name,
        "slug": project.slug,
        "health": project.health,
        "status": project.status,
        "url": settings.SITE_URL + project.get_absolute_url(),
        "status_page_url": settings.SITE_URL + reverse("liaison:status_page", args=[project.slug]),
    }


def project_event_messages(event) -> list[tuple[str, str, dict]]:
    """(webhook event, source key, data) for one ProjectEvent; often none."""
    from projects.models import Milestone, ProjectEvent, StatusUpdate

    Kind = ProjectEvent.Kind
    p = event.payload
    project = event.project
    messages = []

    def key(name: str) -> str:
        return f"project-event:{event.pk}:{name}"

    if event.kind == Kind.MILESTONE_RESCHEDULED:
        from datetime import date

        kind = (
            Milestone.objects.filter(pk=p.get("milestone")).values_list("kind", flat=True).first()
        )
        days = (date.fromisoformat(p["new_date"]) - date.fromisoformat(p["old_date"])).days
        data = {
            "project": project_data(project),
            "milestone": {
                "id": p.get("milestone"),
                "name": p.get("name", ""),
                "kind": kind,
                "baseline_date": p.get("baseline_date"),
            },
            "old_date": p["old_date"],
            "new_date": p["new_date"],
            "days": days,
            "reason": p.get("reason", ""),
        }
        messages.append((Event.MILESTONE_RESCHEDULED, key(Event.MILESTONE_RESCHEDULED), data))
    elif event.kind == Kind.STATUS_UPDATE_PUBLISHED:
        update = StatusUpdate.objects.filter(pk=p.get("status_update")).first()
        if update is not None:
            data = {
                "project": project_data(project),
                "status_update": {
                    "id": update.pk,
                    "health": update.health,
                    "summary": update.summary,
                    "created_at": update.created_at.isoformat(),
                },
            }
            name = Event.STATUS_UPDATE_PUBLISHED
            messages.append((name, key(name), data))
        old, new = p.get("old_health"), p.get("health")
        if old and new and old != new:
            data = {
                "project": project_data(project),
                "old_health": old,
                "new_health": new,
                "cause": "status_update",
                "status_update_id": p.get("status_update"),
            }
            name = Event.PROJECT_HEALTH_CHANGED
            messages.append((name, key(name), data))
    elif event.kind == Kind.PROJECT_CHANGED:
        change = p.get("changes", {}).get("health")
        if change and change[0] != change[1]:
            data = {
                "project": project_data(project),
                "old_health": change[0],
                "new_health": change[1],
                "cause": "project",
            }
            name = Event.PROJECT_HEALTH_CHANGED
            messages.append((name, key(name), data))
    return messages


def ticket_data(ticket) -> dict:
    """What a webhook learns of a ticket: its handle and state, not the caller's words or
    address (receivers with a token can read more through the API)."""
    from django.conf import settings

    return {
        "id": ticket.pk,
        "reference": ticket.reference,
        "queue": ticket.queue.slug,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "type": ticket.type,
        "source": ticket.source,
        "project": ticket.project_id,
        "milestone": ticket.milestone_id,
        "created_at": ticket.created_at.isoformat(),
        "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
        "url": settings.SITE_URL + ticket.get_absolute_url(),
    }


# ---------------------------------------------------------------------------- fan-out


def hooks_for(event: str, project_id: int | None):
    """Active webhooks that asked for `event`: global ones, and the project's own."""
    hooks = Webhook.objects.filter(active=True, events__contains=[event])
    if project_id is None:
        return hooks.filter(project__isnull=True)
    return hooks.filter(Q(project__isnull=True) | Q(project_id=project_id))


def deliveries_create(
    *, event: str, key: str, created_at, data: dict, project_id: int | None
) -> list[int]:
    """One pending delivery per interested webhook (none twice for the same cause), each
    sent at once by a task; returns the ids of the deliveries still to send."""
    hook_ids = list(hooks_for(event, project_id).values_list("pk", flat=True))
    if not hook_ids:
        return []
    payload = envelope(event, key, created_at, data)
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                webhook_id=hook_id, event=event, source_key=key, payload=payload,
                next_attempt_at=now,
            )
            for hook_id in hook_ids
        ],
        ignore_conflicts=True,
    )  # fmt: skip
    ids = list(
        WebhookDelivery.objects.filter(
            webhook_id__in=hook_ids, source_key=key, status=WebhookDelivery.Status.PENDING,
            attempts=0,
        ).values_list("pk", flat=True)
    )  # fmt: skip
    for delivery_id in ids:
        enqueue(deliver, delivery_id)
    return ids


def project_event_fan_out(event) -> int:
    """Deliveries for one applied ProjectEvent; how many were created or still due."""
    created = 0
    for name, key, data in project_event_messages(event):
        created += len(
            deliveries_create(
                event=name, key=key, created_at=event.created_at, data=data,
                project_id=event.project_id,
            )
        )  # fmt: skip
    return created


def ticket_fan_out(ticket, event: str) -> int:
    """Deliveries for a ticket that was created or resolved. A ticket may be resolved
    more than once (reopened in between): each resolution is its own cause."""
    if event == Event.TICKET_CREATED:
        key = f"ticket:{ticket.pk}:created"
        created_at = ticket.created_at
    else:
        key = f"ticket:{ticket.pk}:resolved:v{ticket.version}"
        created_at = ticket.resolved_at or timezone.now()
    if not hooks_for(event, ticket.project_id).exists():
        return 0
    return len(
        deliveries_create(
            event=event, key=key, created_at=created_at, data={"ticket": ticket_data(ticket)},
            project_id=ticket.project_id,
        )
    )  # fmt: skip


# ---------------------------------------------------------------------------- sending


@dataclass
class Outcome:
    ok: bool
    code: int | None = None
    error: str = ""


def connection_pool(target: Target, address: str) -> urllib3.HTTPConnectionPool:
    """A pool that connects to `address` (checked) while speaking to the URL's host:
    TLS server name and certificate check for the host name, Host header set by the
    caller. No proxy from the environment is consulted."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """One attempt: check the URL (resolving it now), then POST to a checked address."""
    try:
        target = check_target(url)
    except ValidationError as error:
        return Outcome(False, None, "Refused: " + " ".join(error.messages))
    headers = {**headers, "Host": target.host_header}
    last_error = ""
    for address in target.addresses:
        pool = connection_pool(target, address)
        try:
            return _post_to(pool, target, body, headers)
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as e:
            last_error = f"Could not connect to {address}: {type(e).__name__}"
            # and on to the host's next address, if it has one
        except urllib3.exceptions.HTTPError as error:
            return Outcome(False, None, f"{type(error).__name__}: {error}"[:ERROR_CHARS])
        finally:
            pool.close()
    return Outcome(False, None, last_error[:ERROR_CHARS])


def _post_to(pool, target: Target, body: bytes, headers: dict[str, str]) -> Outcome:
    response = pool.urlopen(
        "POST", target.path, body=body, headers=headers, redirect=False, retries=False,
        preload_content=False, assert_same_host=False,
    )  # fmt: skip
    try:
        # Only the start of the answer is kept, for the log; a huge body is not read.
        snippet = response.read(ERROR_CHARS, decode_content=False) or b""
    except urllib3.exceptions.HTTPError:
        snippet = b""
    finally:
        response.close()  # never reused: the pool is closed after each attempt
    code = response.status
    if 200 <= code < 300:
        return Outcome(True, code)
    if 300 <= code < 400:
        return Outcome(False, code, "Redirects are not followed; use the final URL.")
    text = snippet.decode("utf-8", "replace").strip()
    return Outcome(False, code, (f"HTTP {code}" + (f": {text}" if text else ""))[:ERROR_CHARS])


def request_headers(delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
        TIMESTAMP_HEADER: str(int(timezone.now().timestamp())),
        SIGNATURE_HEADER: signature_for(delivery.webhook.secret, body),
    }


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure, with ±10 % jitter so deliveries that
    failed together do not all come back together."""
    seconds = min(BACKOFF_FIRST_SECONDS * BACKOFF_FACTOR ** (attempts - 1), BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))  # noqa: S311 (not security)


def _claim(delivery_id: int) -> bool:
    """Take the delivery for one attempt: a conditional update that only one worker wins;
    the lease keeps the sweep off it while the attempt runs."""
    now = timezone.now()
    return bool(
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(next_attempt_at=now + LEASE)
    )


def attempt(delivery_id: int) -> str | None:
    """Make one attempt at a due delivery and record it: "delivered", "retry", "failed",
    or None when it was not due (sent, given up, or another worker has it)."""
    if not _claim(delivery_id):
        return None
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    if not delivery.webhook.active:
        outcome = Outcome(False, None, "The webhook is switched off.")
        attempts_left = 0
    else:
        body = body_of(delivery.payload)
        outcome = post(delivery.webhook.url, body, request_headers(delivery, body))
        attempts_left = MAX_ATTEMPTS - delivery.attempts - 1
    now = timezone.now()
    fields = {"attempts": delivery.attempts + 1, "response_code": outcome.code}
    if outcome.ok:
        result = "delivered"
        fields.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now, last_error="",
                      next_attempt_at=None)  # fmt: skip
    elif attempts_left > 0:
        result = "retry"
        wait = backoff(delivery.attempts + 1)
        fields.update(last_error=outcome.error, next_attempt_at=now + wait)
    else:
        result = "failed"
        fields.update(status=WebhookDelivery.Status.FAILED, last_error=outcome.error,
                      next_attempt_at=None)  # fmt: skip
    # Conditional: an admin who retried or edited it meanwhile is not overwritten.
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        **fields
    )
    if result == "retry":
        _schedule(delivery_id, wait)
    else:
        logger.log(
            logging.INFO if outcome.ok else logging.WARNING,
            "webhook delivery %s %s: %s", delivery_id, result, outcome.error or outcome.code,
        )  # fmt: skip
    return result


def _schedule(delivery_id: int, wait: timedelta) -> None:
    """The next attempt, as a task due after `wait`; if the broker cannot take it the
    sweep finds the delivery due anyway."""
    try:
        deliver.apply_async((delivery_id,), countdown=wait.total_seconds(), retry=False)
    except Exception:  # kombu raises many kinds: refused, timeout, DNS …
        logger.warning("broker unavailable: retry of delivery %s left to the sweep", delivery_id)


@shared_task(name="liaison.webhooks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> str | None:
    """Send one delivery if it is due (safe to run twice: the claim lets one through)."""
    return attempt(delivery_id)


@shared_task(name="liaison.webhooks.sweep_due_deliveries", ignore_result=True)
def sweep_due_deliveries(limit: int = 500) -> int:
    """Re-drive pending deliveries that are due but whose task was lost (broker outage,
    dead worker, expired lease). Returns how many were enqueued."""
    cutoff = timezone.now() - SWEEP_GRACE
    ids = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=cutoff))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in ids:
        enqueue(deliver, delivery_id)
    return len(ids)


@transaction.atomic
def delivery_retry(*, delivery: WebhookDelivery) -> bool:
    """Send a delivery again (admin): a failed one gets a fresh set of attempts; a pending
    one is made due now. A delivered one is left alone. Returns whether it was queued."""
    updated = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(status=WebhookDelivery.Status.DELIVERED)
        .update(status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now())
    )
    if updated:
        transaction.on_commit(lambda: enqueue(deliver, delivery.pk))
    return bool(updated)

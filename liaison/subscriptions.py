"""E-mail subscriptions to a project's status page: double opt-in, signed links, and who
may follow which page.

- Subscribing never says whether the address was known: the same answer, and one mail to
  the address either way (a confirmation link, or "you are already subscribed" with an
  unsubscribe link), at most one per address and project each quarter hour.
- The confirmation link is signed and expires (CONFIRM_MAX_AGE). It carries the moment the
  subscription was last ended, so a link mailed before an unsubscribe cannot undo it.
- The unsubscribe link is signed, does not expire (links in old mails must keep working)
  and carries the moment of confirmation: it works once, and a link from an earlier
  subscription cannot end a later one.
- Who may subscribe: anyone to a public page; to a stakeholders page only a signed-in
  stakeholder of the project, with their account's address (a signed status link is
  revocable, a subscription is not, so a link holder is not offered one); private pages
  take no subscribers. Mail goes out under the same rule, checked again when sending, so
  a page made private later stops its mail at once (see `audience`).
"""

from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from config.queueing import enqueue_on_commit
from liaison.models import Subscription
from projects.models import Project

CONFIRM_SALT = "liaison.subscription.confirm"
UNSUBSCRIBE_SALT = "liaison.subscription.unsubscribe"
CONFIRM_MAX_AGE = 3 * 24 * 60 * 60
# At most one subscription mail (confirmation or "already subscribed") per address and
# project in each window this long, however often the form is sent: nobody's inbox can
# be flooded through the form.
MAIL_WINDOW_SECONDS = 15 * 60


class LinkInvalid(Exception):
    """The token was tampered with or names no subscription."""


class LinkExpired(Exception):
    """The token is genuine but too old, or was issued for a state that has passed."""


class LinkUsed(Exception):
    """The unsubscribe link was used already (or belongs to an earlier subscription)."""


class NotAllowed(Exception):
    """This visitor may read the page but not subscribe to it; the message says why."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _stamp(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


# ---------------------------------------------------------------------------- who may


def check_may_subscribe(user, project: Project, email: str) -> None:
    """Raise NotAllowed unless `user` may subscribe `email` to the project's page.
    The caller has already checked that the user may read the page."""
    if project.visibility == Project.Visibility.PUBLIC:
        return
    if project.visibility == Project.Visibility.PRIVATE:
        raise NotAllowed("This status page is private: it takes no subscribers.")
    if not user.is_authenticated or not project.stakeholders.filter(pk=user.pk).exists():
        raise NotAllowed(
            "Updates from this page go to the project's stakeholders only. Ask the project "
            "manager to add you as a stakeholder."
        )
    if not user.email or normalise_email(user.email) != normalise_email(email):
        raise NotAllowed(
            "This page is for the project's stakeholders: updates can go to your account's "
            f"address only{f' ({user.email})' if user.email else ''}."
        )


def audience(project: Project):
    """The subscriptions that may be mailed about the project now: active ones, on a
    public page; on a stakeholders page only those of the project's stakeholders' own
    addresses; on a private page none."""
    active = Subscription.objects.filter(
        project=project, confirmed_at__isnull=False, unsubscribed_at__isnull=True
    ).order_by("pk")
    if project.visibility == Project.Visibility.PUBLIC:
        return active
    if project.visibility == Project.Visibility.STAKEHOLDERS:
        emails = (
            project.stakeholders.filter(is_active=True)
            .exclude(email="")
            .annotate(address=Lower("email"))
            .values("address")
        )
        return active.filter(email__in=emails)
    return active.none()


# ---------------------------------------------------------------------------- tokens


def confirm_token(subscription: Subscription) -> str:
    return signing.dumps(
        {"s": subscription.pk, "u": _stamp(subscription.unsubscribed_at)}, salt=CONFIRM_SALT
    )


def unsubscribe_token(subscription: Subscription) -> str:
    return signing.dumps(
        {"s": subscription.pk, "c": _stamp(subscription.confirmed_at)}, salt=UNSUBSCRIBE_SALT
    )


def confirm_url(subscription: Subscription) -> str:
    path = reverse(
        "liaison:subscribe_confirm",
        args=[subscription.project.slug, confirm_token(subscription)],
    )
    return settings.SITE_URL + path


def unsubscribe_url(subscription: Subscription) -> str:
    path = reverse(
        "liaison:unsubscribe", args=[subscription.project.slug, unsubscribe_token(subscription)]
    )
    return settings.SITE_URL + path


def _load(token: str, salt: str, max_age=None) -> dict:
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise LinkInvalid from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise LinkInvalid
    return data


def subscription_for_confirm_token(token: str) -> Subscription:
    """The subscription a confirmation link is for (LinkInvalid / LinkExpired)."""
    data = _load(token, CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    subscription = Subscription.objects.select_related("project").filter(pk=data["s"]).first()
    if subscription is None:
        raise LinkInvalid
    if not subscription.active and _stamp(subscription.unsubscribed_at) != data.get("u"):
        raise LinkExpired  # mailed before the address unsubscribed
    return subscription


def subscription_for_unsubscribe_token(token: str) -> Subscription:
    """The subscription an unsubscribe link ends (LinkInvalid / LinkUsed)."""
    data = _load(token, UNSUBSCRIBE_SALT)
    subscription = Subscription.objects.select_related("project").filter(pk=data["s"]).first()
    if subscription is None:
        raise LinkInvalid
    if not subscription.active or _stamp(subscription.confirmed_at) != data.get("c"):
        raise LinkUsed
    return subscription


# ---------------------------------------------------------------------------- actions


def mail_window(now: datetime | None = None) -> int:
    return int((now or timezone.now()).timestamp() // MAIL_WINDOW_SECONDS)


@transaction.atomic
def subscription_request(*, project: Project, email: str) -> Subscription:
    """Someone asked to follow the project at `email`: record the address (unconfirmed
    if new) and, on commit, send it one mail: the confirmation link, or, if it is already
    subscribed, a note saying so. The caller answers the same whatever happened."""
    from liaison.notify import send_subscription_mail

    email = normalise_email(email)
    # ignore_conflicts: two requests at once for one address neither fail nor duplicate.
    Subscription.objects.bulk_create(
        [Subscription(project=project, email=email)], ignore_conflicts=True
    )
    subscription = Subscription.objects.get(project=project, email=email)
    enqueue_on_commit(send_subscription_mail, subscription.pk, mail_window())
    return subscription


@transaction.atomic
def subscription_confirm(*, token: str) -> tuple[Subscription, bool]:
    """Confirm from the link: (subscription, True) if it became active now, False if it
    already was. Raises LinkInvalid / LinkExpired."""
    subscription = subscription_for_confirm_token(token)
    locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if locked.active:
        return subscription, False
    now = timezone.now()
    Subscription.objects.filter(pk=locked.pk).update(confirmed_at=now, unsubscribed_at=None)
    subscription.confirmed_at, subscription.unsubscribed_at = now, None
    return subscription, True


@transaction.atomic
def subscription_end(*, token: str) -> Subscription:
    """Unsubscribe from the link, once. Raises LinkInvalid / LinkUsed."""
    subscription = subscription_for_unsubscribe_token(token)
    now = timezone.now()
    # Conditional on the state the link was made for: of two clicks, one ends it.
    ended = Subscription.objects.filter(
        pk=subscription.pk,
        confirmed_at=subscription.confirmed_at,
        unsubscribed_at__isnull=True,
    ).update(unsubscribed_at=now)
    if not ended:
        raise LinkUsed
    subscription.unsubscribed_at = now
    return subscription

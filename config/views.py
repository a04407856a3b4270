"""The application shell: home page by role, health check, error pages."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache

from config.roles import home_url_for
from config.tasks import HEARTBEAT_CACHE_KEY


@login_required
def home(request):
    return redirect(home_url_for(request.user))


@never_cache
def healthz(request):
    """For load balancers and container health checks: 200 while the database answers.

    Also reports how long ago a worker last ran the beat heartbeat, so an operator sees
    a stopped worker or beat, without failing the web check for it.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # any failure means "not healthy", whatever the driver says
        database = f"error: {exc.__class__.__name__}"
    heartbeat = cache.get(HEARTBEAT_CACHE_KEY)
    heartbeat_age = None
    if heartbeat:
        heartbeat_age = round((timezone.now() - parse_datetime(heartbeat)).total_seconds())
    healthy = database == "ok"
    return JsonResponse(
        {
            "status": "ok" if healthy else "error",
            "database": database,
            "worker_heartbeat_age_seconds": heartbeat_age,
            "heartbeat_interval_seconds": settings.HEARTBEAT_SECONDS,
        },
        status=200 if healthy else 503,
    )


def permission_denied(request, exception=None):
    message = str(exception) if exception and str(exception) else None
    return render(request, "403.html", {"message": message}, status=403)

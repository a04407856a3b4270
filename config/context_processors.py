"""Template context shared by every page."""

from django.urls import reverse

from config.roles import is_agent, is_staff_role


def navigation(request):
    """The main navigation for the signed-in user's roles, with the current item marked."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    if is_agent(user):
        items.append(("Tickets", reverse("helpdesk:triage")))
        items.append(("Liaison", reverse("liaison:inbox")))
    if is_staff_role(user):
        items.append(("Projects", reverse("projects:list")))
    items.append(("Status", reverse("liaison:status_index")))
    if user.is_staff:  # Django admin lets in staff users only
        items.append(("Admin", reverse("admin:index")))
    path = request.path
    return {
        "nav_items": [
            {"label": label, "url": url, "current": path.startswith(url)} for label, url in items
        ]
    }

"""Roles are Django groups; this module names them and answers "what may this user do?".

A user may hold several roles. The order of ROLE_HOMES decides which page is home.
"""

from django.urls import reverse

AGENTS = "Agents"
PROJECT_MANAGERS = "Project managers"
STAKEHOLDERS = "Stakeholders"
ALL_ROLES = (AGENTS, PROJECT_MANAGERS, STAKEHOLDERS)

# Role → the URL name of its home page, most operational role first.
ROLE_HOMES = ((AGENTS, "helpdesk:triage"), (PROJECT_MANAGERS, "projects:list"))


def roles_of(user) -> frozenset[str]:
    """The role names of `user`, read once per request and cached on the user object."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_bridgedesk_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        user._bridgedesk_roles = cached
    return cached


def is_agent(user) -> bool:
    return user.is_superuser or AGENTS in roles_of(user)


def is_project_manager(user) -> bool:
    return user.is_superuser or PROJECT_MANAGERS in roles_of(user)


def is_staff_role(user) -> bool:
    """Agents and project managers: the people who work in Bridgedesk, not only read it."""
    return is_agent(user) or is_project_manager(user)


def home_url_for(user) -> str:
    roles = roles_of(user)
    for role, url_name in ROLE_HOMES:
        if user.is_superuser or role in roles:
            return reverse(url_name)
    return reverse("liaison:status_index")

from django.apps import AppConfig


class BridgedeskConfig(AppConfig):
    """The application shell: shared template tags and project-wide commands."""

    name = "config"
    label = "bridgedesk"
    verbose_name = "Bridgedesk"

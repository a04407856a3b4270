from django.apps import AppConfig


class LiaisonConfig(AppConfig):
    name = "liaison"
    verbose_name = "Liaison"

    def ready(self):
        # Importing these connects their signal receivers.
        from liaison import desk, handover, notify, promises, receivers, status  # noqa: F401

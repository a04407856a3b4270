from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Help desk"

    def ready(self):
        from anymail.signals import inbound

        from helpdesk.inbound import handle_inbound_webhook

        # Mail posted to any of Anymail's inbound webhooks (/inbound/<provider>/...)
        # becomes an InboundMessage.
        inbound.connect(handle_inbound_webhook, dispatch_uid="helpdesk.inbound")

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import SimpleRouter

from config import views
from helpdesk import api as helpdesk_api
from liaison import api as liaison_api
from projects import api as projects_api

handler403 = "config.views.permission_denied"

router = SimpleRouter()
router.register("queues", helpdesk_api.QueueViewSet, basename="queue")
router.register("tickets", helpdesk_api.TicketViewSet, basename="ticket")
router.register("projects", projects_api.ProjectViewSet, basename="project")
router.register("milestones", projects_api.MilestoneViewSet, basename="milestone")
router.register("tasks", projects_api.TaskViewSet, basename="task")
router.register("status-updates", projects_api.StatusUpdateViewSet, basename="statusupdate")
router.register("bulletins", liaison_api.BulletinViewSet, basename="bulletin")
router.register("handovers", liaison_api.HandoverViewSet, basename="handover")

api_v1 = [
    path("auth/token/", obtain_auth_token, name="token"),
    *router.urls,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # Inbound e-mail webhooks of the providers django-anymail supports, e.g.
    # /inbound/mailgun/inbound_mime/; secured by ANYMAIL_WEBHOOK_SECRET.
    path("inbound/", include("anymail.urls")),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("helpdesk.urls")),
    path("", include("projects.urls")),
    path("", include("liaison.urls")),
]

admin.site.site_header = "Bridgedesk administration"
admin.site.site_title = "Bridgedesk admin"

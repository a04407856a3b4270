from django.urls import path

from liaison import views

app_name = "liaison"

urlpatterns = [
    path("status/", views.status_index, name="status_index"),
    path("status/<slug:slug>/", views.status_page, name="status_page"),
]

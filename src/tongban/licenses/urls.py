"""Pages of the licences app (我的证照, public verification), included under /licenses/."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "licenses"
urlpatterns = [
    path("", views.my_licenses, name="my_licenses"),
    path("verify/", views.verify, name="verify"),
    path("<str:license_id>/", views.license_detail, name="license_detail"),
    path("<str:license_id>/file/", views.license_download, name="license_download"),
    path("<str:license_id>/present/", views.license_present_page, name="license_present"),
]

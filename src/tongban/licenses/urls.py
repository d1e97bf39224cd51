"""Pages of the licences app (我的证照, public verification), included under /licenses/."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "licenses"
urlpatterns: list[URLPattern] = []

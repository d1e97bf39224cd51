from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

from tongban.web import views as web_views

from .api import api

# Admin sign-in needs the staff member's TOTP code too (django-otp), like the workbench.
admin.site.__class__ = OTPAdminSite
admin.site.site_header = "通办 · 后台管理"
admin.site.site_title = "通办后台"

urlpatterns = [
    path("healthz", web_views.healthz, name="healthz"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("licenses/", include("tongban.licenses.urls")),
    path("", include("tongban.web.urls")),
]

handler400 = "tongban.web.views.error_400"
handler403 = "tongban.web.views.error_403"
handler404 = "tongban.web.views.error_404"
handler500 = "tongban.web.views.error_500"

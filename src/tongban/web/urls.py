from django.urls import path

from . import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("items/", views.item_list, name="item_list"),
    path("items/<str:code>/", views.item_guide, name="item_guide"),
    path("items/<str:code>/apply/", views.apply, name="apply"),
    path("me/cases/", views.my_cases, name="my_cases"),
    path("me/cases/<str:case_id>/", views.my_case, name="my_case"),
    path("me/cases/<str:case_id>/resubmit/", views.resubmit, name="resubmit"),
    path("me/data-use/", views.my_data_use, name="my_data_use"),
    path("me/consents/<int:consent_id>/revoke/", views.consent_revoke_view, name="consent_revoke"),
    path("materials/<int:material_id>/", views.material_download, name="material_download"),
    path("login/", views.login_view, name="login"),
    path("register/", views.register, name="register"),
    path("logout/", views.logout_view, name="logout"),
    path("workbench/login/", views.staff_login, name="staff_login"),
    path("workbench/", views.queue, name="queue"),
    path("workbench/cases/<str:case_id>/", views.case_detail, name="case_detail"),
    path("workbench/cases/<str:case_id>/actions/", views.case_action, name="case_action"),
    path("workbench/security/", views.security, name="security"),
    path(
        "workbench/security/alerts/<int:alert_id>/acknowledge/",
        views.alert_acknowledge_view,
        name="alert_acknowledge",
    ),
]

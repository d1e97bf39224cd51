from django.urls import path

from . import views, views_bundles, views_crossregion, views_supervision

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
    path(
        "items/<str:code>/cross-region/",
        views_crossregion.cross_region_apply,
        name="cross_region_apply",
    ),
    path("me/cross-region/", views_crossregion.my_cross_region, name="my_cross_region"),
    path(
        "me/cross-region/<str:received_id>/resubmit/",
        views_crossregion.cross_region_resubmit,
        name="cross_region_resubmit",
    ),
    path("workbench/received/", views_crossregion.received_queue, name="received_queue"),
    path(
        "workbench/received/<str:received_id>/check/",
        views_crossregion.received_check,
        name="received_check",
    ),
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
    # 一件事 (views_bundles)
    path("bundles/", views_bundles.bundle_list, name="bundle_list"),
    path("bundles/<str:code>/", views_bundles.bundle_guide, name="bundle_guide"),
    path("bundles/<str:code>/apply/", views_bundles.bundle_apply, name="bundle_apply"),
    path("me/bundles/<str:bundle_case_id>/", views_bundles.my_bundle, name="my_bundle"),
    path(
        "me/bundles/<str:bundle_case_id>/resubmit/",
        views_bundles.bundle_resubmit_view,
        name="bundle_resubmit",
    ),
    # 协办、转办与督办 (web/views_supervision.py)
    path("workbench/supervision/", views_supervision.supervision_view, name="supervision"),
    path(
        "workbench/supervision/alerts/<int:alert_id>/escalate/",
        views_supervision.alert_escalate_view,
        name="alert_escalate",
    ),
    path("workbench/assist-tasks/", views_supervision.assist_task_list, name="assist_tasks"),
    path(
        "workbench/assist-tasks/<int:task_id>/",
        views_supervision.assist_task_detail,
        name="assist_task_detail",
    ),
    path(
        "workbench/assist-tasks/<int:task_id>/actions/",
        views_supervision.assist_task_act,
        name="assist_task_act",
    ),
    path(
        "workbench/cases/<str:case_id>/collaboration/",
        views_supervision.case_collaboration,
        name="case_collaboration",
    ),
    path(
        "workbench/cases/<str:case_id>/collaboration/actions/",
        views_supervision.case_collaboration_act,
        name="case_collaboration_act",
    ),
]

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "tongban.identity"
    verbose_name = "身份 (申请人、部门、工作人员)"

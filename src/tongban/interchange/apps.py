from django.apps import AppConfig


class InterchangeConfig(AppConfig):
    name = "tongban.interchange"
    verbose_name = "跨区域消息 (对端、发件箱、收件箱)"

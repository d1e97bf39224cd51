"""Pluggable SMS channel. Settings TONGBAN["SMS_CHANNEL"] names a callable(phone, text)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

from tongban.core.masking import mask

from .models import SmsMessage

logger = logging.getLogger(__name__)


def outbox_channel(phone: str, text: str) -> None:
    """Demo channel: keeps the message in the outbox (visible in admin) and prints it."""
    SmsMessage.objects.create(phone=phone, text=text)
    # The console is the demo's phone; the number is masked as in every log line.
    print(f"[短信 SMS → {mask(phone, 'phone')}] {text}", flush=True)


def send_sms(phone: str, text: str) -> None:
    channel = import_string(str(settings.TONGBAN["SMS_CHANNEL"]))
    channel(phone, text)
    logger.info("sms sent to %s", mask(phone, "phone"))

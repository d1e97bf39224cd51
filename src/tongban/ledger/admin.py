"""Back office: logs, checkpoints, keys and alerts are read-only; the trust list is editable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import errors
from .models import (
    Checkpoint,
    Log,
    SigningKey,
    SplitViewAlert,
    TrustedLog,
    WitnessedCheckpoint,
)
from .note import CosignatureVerifier, NoteError, verifier_from_vkey


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Log)
class LogAdmin(ReadOnlyAdmin):
    list_display = ["name", "origin", "hash_algorithm", "size", "created_at"]
    exclude = ["frontier"]


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["log", "size", "key_ids", "created_at"]
    list_filter = ["log"]
    exclude = ["root_hash"]


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ["owner", "algorithm", "name", "is_active", "created_at", "retired_at"]
    list_filter = ["owner", "algorithm", "is_active"]


@admin.register(SplitViewAlert)
class SplitViewAlertAdmin(ReadOnlyAdmin):
    list_display = ["trusted_log", "kind", "detected_at"]
    list_filter = ["kind"]


@admin.register(WitnessedCheckpoint)
class WitnessedCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["trusted_log", "size", "observed_at"]
    exclude = ["root_hash"]


class TrustedLogForm(ModelForm):
    class Meta:
        model = TrustedLog
        fields = ["origin", "region", "vkeys", "hash_algorithm", "is_active"]

    def clean_vkeys(self) -> str:
        lines = [line.strip() for line in self.cleaned_data["vkeys"].splitlines() if line.strip()]
        if not lines:
            raise ValidationError(errors.VKEY_MISSING.message)
        for line in lines:
            try:
                verifier = verifier_from_vkey(line)
            except NoteError as error:
                raise ValidationError(errors.INVALID_VKEY.error(reason=error).message) from error
            if isinstance(verifier, CosignatureVerifier):
                raise ValidationError(_("这是见证人副署公钥，不是日志公钥"))
        return "\n".join(lines)


@admin.register(TrustedLog)
class TrustedLogAdmin(admin.ModelAdmin):
    form = TrustedLogForm
    list_display = ["origin", "region", "hash_algorithm", "is_active"]
    list_filter = ["is_active", "hash_algorithm"]
    search_fields = ["origin", "region"]

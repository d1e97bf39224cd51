"""Peers and messages in the back office: peers saved through `peer_save` (validated,
audited), messages read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from . import errors
from .models import InboundMessage, OutboundMessage, Peer


class PeerForm(forms.ModelForm):
    class Meta:
        model = Peer
        fields = ["code", "name", "base_url", "public_key", "is_active"]

    def clean_public_key(self) -> str:
        from tongban.core.crypto import SM2KeyError, sm2_public_key_normalise

        try:
            return sm2_public_key_normalise(self.cleaned_data["public_key"])
        except SM2KeyError as error:
            raise forms.ValidationError(errors.BAD_PUBLIC_KEY.error(reason=error).message) from None


@admin.register(Peer)
class PeerAdmin(admin.ModelAdmin):
    form = PeerForm
    list_display = ["code", "name", "base_url", "is_active", "previous_key_until"]
    readonly_fields = ["previous_public_key", "previous_key_until"]
    actions = ["revoke_previous_keys"]

    @admin.action(description="不再接受上一把公钥（旧钥泄露时）")
    def revoke_previous_keys(self, request: HttpRequest, queryset: Any) -> None:
        from .services import peer_save

        for peer in queryset:
            peer_save(
                code=peer.code,
                name=peer.name,
                base_url=peer.base_url,
                public_key=peer.public_key,
                keep_previous=False,
                activate=False,
            )
        self.message_user(request, f"已撤销 {queryset.count()} 个对端的上一把公钥")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Through `peer_save`: validated, audited, and a changed key keeps the old one for
        its grace period."""
        from .services import peer_save

        peer = peer_save(
            code=obj.code, name=obj.name, base_url=obj.base_url, public_key=obj.public_key
        )
        if peer.is_active != obj.is_active:
            type(peer).objects.filter(pk=peer.pk).update(is_active=obj.is_active)
        obj.refresh_from_db()


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "sender", "peer", "kind", "attempts", "delivered_at"]
    list_filter = ["kind", "peer"]
    exclude = ["body", "signature"]


@admin.register(InboundMessage)
class InboundMessageAdmin(_ReadOnlyAdmin):
    list_display = ["received_at", "sender", "recipient", "kind", "message_id"]
    list_filter = ["kind", "sender"]
    exclude = ["payload"]

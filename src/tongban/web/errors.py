"""The error codes the pages raise themselves (ADR 0020); the domain's come from the apps."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tongban.core.errors import ErrorCode, NotFound

MATERIAL_NOT_FOUND = ErrorCode("material_not_found", NotFound, _("材料不存在"))
# The cross-region application page of an item that offers none: no such page (404).
NOT_CROSS_PROVINCE = ErrorCode("not_cross_province", NotFound, _("该事项未开通跨省通办"))

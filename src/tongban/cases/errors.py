"""The error codes of the cases app, each named once with its one message (ADR 0020)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tongban.core.errors import ErrorCode, NotFound

CASE_NOT_FOUND = ErrorCode("case_not_found", NotFound, _("办件不存在"))
BUNDLE_CASE_NOT_FOUND = ErrorCode("bundle_case_not_found", NotFound, _("一件事办件不存在"))
RECEIVED_NOT_FOUND = ErrorCode("received_not_found", NotFound, _("代收件不存在"))

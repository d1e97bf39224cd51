"""The error codes of the licenses app, each named once with its one message (ADR 0020)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tongban.core.errors import ErrorCode, NotFound

LICENSE_NOT_FOUND = ErrorCode("license_not_found", NotFound, _("证照不存在"))

"""Licence writes, one module per concern: keys and the ledger log (`log`), issuance on
approval (`issuance`), status changes and expiry (`status`), online verification and
presentations (`verification`), the offline file, status list and trust lists (`trust`).

The names below are the app's public API; import them from here."""

from .issuance import (
    license_issue,
    on_case_status_changed,
)
from .log import (
    DATA_FORMAT,
    LOG_NAME,
    PRESENTATION_FORMAT,
    PRESENTATION_MAX_SECONDS,
    ActorKind,
    LogFacts,
    issuer_key,
    log_entry,
    log_event,
    log_facts,
    platform_key_id,
    region,
)
from .status import (
    license_expire,
    license_reinstate,
    license_revoke,
    license_suspend,
)
from .trust import (
    license_export,
    license_file,
    license_file_check,
    parse_json_upload,
    status_list_sign,
    trust_list_export,
    trust_list_import,
    trust_lists_all,
)
from .verification import (
    Presentation,
    license_present,
    license_verify,
    presentation_verify,
)

__all__ = [
    "DATA_FORMAT",
    "LOG_NAME",
    "PRESENTATION_FORMAT",
    "PRESENTATION_MAX_SECONDS",
    "ActorKind",
    "LogFacts",
    "Presentation",
    "issuer_key",
    "license_expire",
    "license_export",
    "license_file",
    "license_file_check",
    "license_issue",
    "license_present",
    "license_reinstate",
    "license_revoke",
    "license_suspend",
    "license_verify",
    "log_entry",
    "log_event",
    "log_facts",
    "on_case_status_changed",
    "parse_json_upload",
    "platform_key_id",
    "presentation_verify",
    "region",
    "status_list_sign",
    "trust_list_export",
    "trust_list_import",
    "trust_lists_all",
]

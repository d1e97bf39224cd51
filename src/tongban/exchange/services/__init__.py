"""Exchange writes, one module per concern: the resource catalog and registry rows
(`catalog`), grants, consents, system credentials and the gateway lookup (`gateway`). The
per-process read caches and subject pseudonyms they share with the reads (selectors) are the
app's `cache` and `subjects` modules.

The names below are the app's public API; import them from here."""

from ..cache import exchange_cache_clear
from ..subjects import subject_key, subject_masked
from .catalog import (
    legal_entity_record_put,
    population_record_put,
    registries_seed,
    social_security_record_put,
)
from .consents import consent_give, consent_revoke
from .credentials import Caller, system_caller, system_credential_issue
from .gateway import (
    MAX_ELEMENTS,
    CaseChecker,
    LookupResult,
    alert_acknowledge,
    case_checker_register,
    data_use_records_link_case,
    lookup,
)
from .grants import GRANT_ROLES, grant_decide, grant_request

__all__ = [
    "GRANT_ROLES",
    "MAX_ELEMENTS",
    "Caller",
    "CaseChecker",
    "LookupResult",
    "alert_acknowledge",
    "case_checker_register",
    "consent_give",
    "consent_revoke",
    "data_use_records_link_case",
    "exchange_cache_clear",
    "grant_decide",
    "grant_request",
    "legal_entity_record_put",
    "lookup",
    "population_record_put",
    "registries_seed",
    "social_security_record_put",
    "subject_key",
    "subject_masked",
    "system_caller",
    "system_credential_issue",
]

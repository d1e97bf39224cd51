"""Event wiring: which outer handler hears which inner event. Filled in as apps need it."""

from __future__ import annotations


def wire() -> None:
    """Subscribe handlers (called once from ConfigConfig.ready)."""
    from tongban.cases.events import CaseStatusChanged
    from tongban.core.events import subscribe
    from tongban.licenses.services import on_case_status_changed

    # A case reaching `approved` issues the licence its item produces (idempotent per case).
    subscribe(CaseStatusChanged, on_case_status_changed)

"""Event wiring: which outer handler hears which inner event. Filled in as apps need it."""

from __future__ import annotations


def wire() -> None:
    """Subscribe handlers (called once from ConfigConfig.ready)."""
    from tongban.cases.events import CaseStatusChanged
    from tongban.core.events import subscribe
    from tongban.licenses.services import on_case_status_changed

    # A case reaching `approved` issues the licence its item produces (idempotent per case).
    subscribe(CaseStatusChanged, on_case_status_changed)

    # 跨省通办: a case received in another region reports each status change back to it; the
    # module also registers its interchange message handlers (hand-off, status) on import.
    from tongban.cases import crossregion

    subscribe(CaseStatusChanged, crossregion.on_case_status_changed)

    # 一件事: a child case of a bundle moved — outputs flow to the items that wait for it,
    # those whose dependencies are met start, and the bundle's status is re-derived.
    from tongban.cases.bundles import bundle_on_case_status_changed

    subscribe(CaseStatusChanged, bundle_on_case_status_changed)

    # 督办: a case that moved on closes its stuck/deadline alerts; acting on a transferred case
    # picks the transfer up.
    from tongban.cases.supervision import on_case_status_changed as supervision_on_status_changed

    subscribe(CaseStatusChanged, supervision_on_status_changed)

"""Event wiring: which outer handler hears which inner event (ADR 0019 says why each
consequence is queued or inline). Each subscription's name is stable: delivery rows refer to
it, so renaming one strands its pending deliveries."""

from __future__ import annotations


def wire() -> None:
    """Subscribe handlers (called once from ConfigConfig.ready)."""
    from tongban.cases.bundles.services import bundle_on_case_status_changed
    from tongban.cases.crossregion import services as crossregion
    from tongban.cases.events import CaseStatusChanged
    from tongban.cases.models import CaseStatus
    from tongban.cases.supervision.services import (
        on_case_status_changed as supervision_on_status_changed,
    )
    from tongban.core.events import subscribe
    from tongban.licenses.services import on_case_status_changed

    # A case reaching `approved` issues the licence its item produces (idempotent per case).
    subscribe(
        CaseStatusChanged,
        on_case_status_changed,
        name="licenses.issue_on_approval",
        when=lambda event: event.to_status == CaseStatus.APPROVED,
    )
    # 跨省通办: a case received in another region reports its unreported steps back to it, in
    # order (the module also registers its interchange message handlers on import).
    subscribe(
        CaseStatusChanged, crossregion.on_case_status_changed, name="cases.crossregion.report"
    )
    # 一件事: a child case of a bundle moved — outputs flow to the items that wait for it,
    # those whose dependencies are met start, and the bundle's status is re-derived.
    subscribe(CaseStatusChanged, bundle_on_case_status_changed, name="cases.bundles.progress")
    # 督办: a case that moved on closes its stuck/deadline alerts, and acting on a transferred
    # case picks the transfer up — the same case, so in the same transaction.
    subscribe(
        CaseStatusChanged,
        supervision_on_status_changed,
        name="cases.supervision.close_alerts",
        inline=True,
    )

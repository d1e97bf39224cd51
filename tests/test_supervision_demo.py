"""The supervision demo seed: supervisors, stuck cases and an assisting task; idempotent."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_seed_supervision_fills_the_view_and_is_idempotent() -> None:
    from tongban.cases.models import AssistTask, StuckAlert, StuckThreshold
    from tongban.cases.supervision.selectors import alerts_for_staff
    from tongban.demo.seed import seed_demo
    from tongban.demo.supervision import seed_supervision
    from tongban.identity.models import StaffMember

    seed_demo(synthetic_people=3)
    accounts = seed_supervision()
    assert {"gd-supervisor", "zj-supervisor"} <= {account.username for account in accounts}
    counts = (StuckAlert.objects.count(), AssistTask.objects.count())
    seed_supervision()
    assert (StuckAlert.objects.count(), AssistTask.objects.count()) == counts
    assert StuckThreshold.objects.count() == 8
    gd = StaffMember.objects.get(user__username="gd-supervisor")
    zj = StaffMember.objects.get(user__username="zj-supervisor")
    assert gd.roles == ["supervise"] and gd.scope_id == "440000"
    gd_alerts = alerts_for_staff(staff=gd).filter(closed_at=None)
    assert gd_alerts.filter(step="submitted").exists()
    assert gd_alerts.filter(step="under_review").exists()
    assert gd_alerts.filter(step="assist_pickup").exists()
    assert alerts_for_staff(staff=zj).filter(closed_at=None, step="submitted").exists()
    assert not alerts_for_staff(staff=zj).filter(division_code__startswith="44").exists()

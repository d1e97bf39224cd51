"""跨省通办 status messages that arrive late or out of order (found by harness/topology.py:
two workers deliver two messages at once, a killed worker's message is resent 30 s later).
The receiving region must show every step exactly once, in the handling region's order, and
its status must be that of the latest step, whatever order the messages arrive in."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model

from tongban.cases.models import ReceivedApplication
from tongban.cases.submission.services import case_transition
from tongban.core import clock
from tongban.identity.selectors import actor_for_user
from tongban.interchange import services as interchange
from tongban.interchange.models import OutboundMessage

from . import durability_world
from .test_events import after_commit

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(db: Any) -> durability_world.Ready:
    return durability_world.build(after_commit)


def handling_reviewer(ready: durability_world.Ready) -> Any:
    user = get_user_model().objects.get(username=ready.handling_reviewer_username)
    return actor_for_user(user)


def timeline(ready: durability_world.Ready) -> list[str]:
    received = ReceivedApplication.objects.get(pk=ready.received_id)
    return [entry["action"] for entry in received.timeline]


def test_a_status_message_delivered_late_is_applied_in_its_place(
    ready: durability_world.Ready, monkeypatch: pytest.MonkeyPatch
) -> None:
    original, failing = interchange._transport, [True]

    def transport(message: Any) -> Any:  # the link to the peer drops the 'approve' message once
        if failing[0] and '"action":"approve"' in message.body:
            raise OSError("connection reset by peer")
        return original(message)

    monkeypatch.setattr(interchange, "_transport", transport)
    for action in ("approve", "complete"):
        with after_commit():
            case_transition(
                actor=handling_reviewer(ready), case_id=ready.cross_region_case, action=action
            )
    assert timeline(ready)[-2:] == ["start_review", "complete"]  # approve is still on its way
    failing[0] = False
    with time_machine.travel(clock.now() + timedelta(minutes=5), tick=False), after_commit():
        interchange.outbox_deliver_due()
    assert not OutboundMessage.objects.filter(delivered_at__isnull=True).exists()
    assert timeline(ready)[-3:] == ["start_review", "approve", "complete"]
    received = ReceivedApplication.objects.get(pk=ready.received_id)
    assert received.remote_status == "completed"  # the latest step's, not the late one's
    assert received.last_sequence == max(e.get("sequence", 0) for e in received.timeline)


def test_a_status_applied_twice_changes_nothing_the_second_time(
    ready: durability_world.Ready,
) -> None:
    with after_commit():
        case_transition(
            actor=handling_reviewer(ready), case_id=ready.cross_region_case, action="approve"
        )
    message = OutboundMessage.objects.filter(body__contains='"action":"approve"').get()
    envelope = json.loads(message.body)
    before = ReceivedApplication.objects.get(pk=ready.received_id)
    handler = interchange.HANDLERS[envelope["kind"]]
    reply = handler(envelope["sender"], envelope["recipient"], envelope["payload"])
    after = ReceivedApplication.objects.get(pk=ready.received_id)
    assert reply["applied"] is False
    assert (after.timeline, after.remote_status, after.last_sequence) == (
        before.timeline,
        before.remote_status,
        before.last_sequence,
    )

"""Durable domain events (core/events.py, ADR 0019): a consequence is a row written with the
change, delivered at least once after commit, retried with backoff, parked and replayed; the
real consequences of an approval — licence, 一件事 release, 跨省通办 status — survive a
failing handler and a process killed between commit and handler, each exactly once."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client, TestCase
from django_otp.plugins.otp_totp.models import TOTPDevice

from tongban.cases.bundles import services as bundles
from tongban.cases.crossregion import services as crossregion
from tongban.cases.events import CaseStatusChanged
from tongban.cases.submission.services import case_transition
from tongban.core import clock, events
from tongban.core.audit import audit_verify
from tongban.core.models import AuditRecord, DeliveryStatus, Event, EventDelivery
from tongban.core.registry import AlreadyRegistered, Registry
from tongban.identity.selectors import actor_for_user
from tongban.licenses.services import issuance as license_issuance

from . import durability_world
from . import factories as f

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[1]


def after_commit() -> Any:
    """Tests run inside a transaction: run what waits for commit (deliveries), nested too."""
    return TestCase.captureOnCommitCallbacks(execute=True)


@events.domain_event("tests.parcel_sent")
@dataclass(frozen=True)
class ParcelSent:
    parcel: str
    weight: int = 1


class Recorder:
    """A handler that records what it saw and fails while `failures` lasts."""

    def __init__(self, failures: int = 0) -> None:
        self.seen: list[ParcelSent] = []
        self.failures = failures

    def __call__(self, event: ParcelSent) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("registry timed out")
        self.seen.append(event)


@pytest.fixture
def subscribe() -> Iterator[Callable[..., Recorder]]:
    names: list[str] = []

    def add(name: str, recorder: Recorder | None = None, **options: Any) -> Recorder:
        recorder = recorder or Recorder()
        events.subscribe(ParcelSent, recorder, name=name, **options)
        names.append(name)
        return recorder

    yield add
    for name in names:
        events.unsubscribe(name)


def deliveries(name: str) -> list[EventDelivery]:
    return list(EventDelivery.objects.filter(handler=name).order_by("pk"))


class TestOutbox:
    def test_an_event_exists_exactly_when_its_change_commits(
        self, subscribe: Callable[..., Recorder]
    ) -> None:
        recorder = subscribe("tests.courier")
        with pytest.raises(RuntimeError), after_commit(), transaction.atomic():
            events.publish(ParcelSent("P-1"))
            raise RuntimeError("the change failed")
        assert not Event.objects.exists() and not EventDelivery.objects.exists()
        assert recorder.seen == []

        with after_commit() as callbacks, transaction.atomic():
            events.publish(ParcelSent("P-2", 3))
            # Written in the transaction, before commit; the handler has not run.
            assert Event.objects.get().payload == {"parcel": "P-2", "weight": 3}
            assert recorder.seen == []
        assert len(callbacks) == 1
        assert recorder.seen == [ParcelSent("P-2", 3)]
        (delivery,) = deliveries("tests.courier")
        assert delivery.status == DeliveryStatus.DELIVERED
        assert delivery.attempts == 1  # counted before it ran
        assert delivery.delivered_at is not None

    def test_a_subscription_whose_condition_fails_writes_nothing(
        self, subscribe: Callable[..., Recorder]
    ) -> None:
        subscribe("tests.heavy_only", when=lambda event: event.weight > 10)
        with after_commit():
            events.publish(ParcelSent("light", 1))
        assert not Event.objects.exists()
        with after_commit():
            events.publish(ParcelSent("heavy", 20))
        assert [d.status for d in deliveries("tests.heavy_only")] == [DeliveryStatus.DELIVERED]

    def test_an_inline_handler_runs_in_the_transaction_and_its_failure_fails_the_change(
        self, subscribe: Callable[..., Recorder]
    ) -> None:
        inline = subscribe("tests.same_aggregate", inline=True)
        assert_nothing = subscribe("tests.queued")
        events.publish(ParcelSent("P-1"))  # no commit needed: it ran at once
        assert inline.seen == [ParcelSent("P-1")]
        assert not EventDelivery.objects.filter(handler="tests.same_aggregate").exists()

        inline.failures = 1
        with pytest.raises(RuntimeError), after_commit(), transaction.atomic():
            Event.objects.create(name="marker", payload={}, created_at=clock.now())
            events.publish(ParcelSent("P-2"))
        assert not Event.objects.filter(name="marker").exists()  # the change rolled back
        assert [e.parcel for e in assert_nothing.seen] == []

    def test_a_failing_handler_is_retried_with_backoff_parked_and_replayed(
        self, subscribe: Callable[..., Recorder], settings: Any
    ) -> None:
        settings.TONGBAN = {
            **settings.TONGBAN,
            "EVENTS": {**settings.TONGBAN["EVENTS"], "MAX_ATTEMPTS": 3, "RETRY_BASE_S": 10},
        }
        flaky = subscribe("tests.flaky", Recorder(failures=5))
        steady = subscribe("tests.steady")
        start = clock.now()
        with time_machine.travel(start, tick=False), after_commit():
            events.publish(ParcelSent("P-1"))
        # One failing handler holds back no other.
        assert steady.seen == [ParcelSent("P-1")]
        (delivery,) = deliveries("tests.flaky")
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert delivery.last_error == "RuntimeError: registry timed out"
        assert delivery.next_attempt_at == start + timedelta(seconds=10)

        # Not due yet: nothing runs.
        assert events.deliveries_due(now=start + timedelta(seconds=9)) == 0
        with time_machine.travel(start + timedelta(seconds=10), tick=False):
            assert events.deliveries_due() == 0  # due, ran, failed again
        delivery = EventDelivery.objects.get(pk=delivery.pk)
        assert delivery.attempts == 2
        assert delivery.next_attempt_at == start + timedelta(seconds=30)  # 10 s, then 20 s

        with time_machine.travel(start + timedelta(seconds=30), tick=False):
            events.deliveries_due()
        delivery = EventDelivery.objects.get(pk=delivery.pk)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PARKED, 3)
        parked_record = AuditRecord.objects.get(action="event.parked")
        assert parked_record.object_id == str(delivery.pk)
        assert parked_record.detail == {"handler": "tests.flaky", "event": "tests.parcel_sent"}
        # A parked delivery is never retried on its own.
        assert events.deliveries_due(now=start + timedelta(days=1)) == 0
        assert flaky.seen == [] and flaky.failures == 2

        # The administrator sees it with its error, and replays it once the cause is fixed.
        admin = admin_client()
        page = admin.get("/admin/core/eventdelivery/?status=parked").content.decode()
        assert "tests.flaky" in page and "registry timed out" in page
        assert "1 条事件投递多次失败后已搁置" in page
        flaky.failures = 0
        with after_commit():
            response = admin.post(
                "/admin/core/eventdelivery/",
                {"action": "replay", "_selected_action": [delivery.pk]},
            )
        assert response.status_code == 302
        delivery = EventDelivery.objects.get(pk=delivery.pk)
        assert delivery.status == DeliveryStatus.DELIVERED
        assert flaky.seen == [ParcelSent("P-1")]
        replays = AuditRecord.objects.filter(action="event.replay", object_id=str(delivery.pk))
        assert replays.count() == 1
        assert audit_verify().ok

    def test_attempts_whose_process_died_count_and_end_parked(
        self, subscribe: Callable[..., Recorder], settings: Any
    ) -> None:
        settings.TONGBAN = {
            **settings.TONGBAN,
            "EVENTS": {**settings.TONGBAN["EVENTS"], "MAX_ATTEMPTS": 3},
        }
        recorder = subscribe("tests.crashes_its_process")
        events.publish(ParcelSent("P-1"))  # not committed here: no attempt queued
        (delivery,) = deliveries("tests.crashes_its_process")
        start = clock.now()
        for number in (1, 2, 3):
            # An attempt is counted before its handler runs; this one's process then dies
            # (killed, out of memory) and records nothing.
            with time_machine.travel(start + timedelta(hours=number), tick=False):
                assert events._claim(delivery.pk) == number
            delivery = EventDelivery.objects.get(pk=delivery.pk)
            # A running attempt is left alone by the periodic retry until its backoff ends.
            assert delivery.next_attempt_at > start + timedelta(hours=number)
        assert events.deliveries_due(now=start + timedelta(days=1)) == 0
        delivery = EventDelivery.objects.get(pk=delivery.pk)
        assert delivery.status == DeliveryStatus.PARKED
        assert delivery.last_error == "the attempt did not finish (its process ended)"
        assert AuditRecord.objects.filter(action="event.parked").count() == 1
        assert recorder.seen == []

    def test_a_delivery_claimed_by_another_runner_is_not_run_twice(
        self, subscribe: Callable[..., Recorder]
    ) -> None:
        recorder = subscribe("tests.courier")
        events.publish(ParcelSent("P-1"))
        (delivery,) = deliveries("tests.courier")
        assert events._claim(delivery.pk) == 1  # another worker claimed it and runs it
        assert events.deliveries_due(now=clock.now()) == 0  # its backoff: not due
        assert recorder.seen == []

    def test_a_broker_that_is_down_leaves_the_delivery_to_the_periodic_retry(
        self, subscribe: Callable[..., Recorder], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from tongban.core import tasks

        def broker_down(*args: Any) -> None:
            raise ConnectionRefusedError("redis://127.0.0.1:6379 refused")

        monkeypatch.setattr(tasks.events_deliver, "delay", broker_down)
        recorder = subscribe("tests.courier")
        start = clock.now()
        with time_machine.travel(start, tick=False), after_commit():
            events.publish(ParcelSent("P-1"))  # the caller sees no error: its change committed
        assert recorder.seen == []
        # The periodic retry leaves a fresh delivery to the attempt queued at commit...
        assert events.deliveries_due(now=start + timedelta(seconds=29)) == 0
        # ...and takes it once that had its time.
        assert events.deliveries_due(now=start + timedelta(seconds=30)) == 1
        assert recorder.seen == [ParcelSent("P-1")]
        assert events.deliveries_due(now=start + timedelta(hours=1)) == 0  # once

    def test_a_delivery_whose_handler_is_gone_fails_visibly(
        self, subscribe: Callable[..., Recorder]
    ) -> None:
        subscribe("tests.renamed_later")
        events.publish(ParcelSent("P-1"))  # not committed here: nothing delivered yet
        events.unsubscribe("tests.renamed_later")
        (delivery,) = deliveries("tests.renamed_later")
        assert events.delivery_attempt(delivery_id=delivery.pk) is False
        delivery = EventDelivery.objects.get(pk=delivery.pk)
        assert delivery.attempts == 1
        assert delivery.last_error == "NotRegistered: \"no event handler 'tests.renamed_later'\""

    def test_an_event_stored_before_a_field_was_added_or_removed_still_builds(self) -> None:
        old = Event(name="tests.parcel_sent", payload={"parcel": "P-9", "colour": "red"})
        assert events.event_build(old) == ParcelSent("P-9", 1)

    def test_delivered_events_are_pruned_after_retention_and_undone_ones_kept(
        self, subscribe: Callable[..., Recorder]
    ) -> None:
        subscribe("tests.courier")
        flaky = subscribe("tests.flaky", Recorder(failures=99))
        start = clock.now() - timedelta(days=40)
        with time_machine.travel(start, tick=False), after_commit():
            events.publish(ParcelSent("kept"))  # the flaky delivery is still pending
        events.unsubscribe("tests.flaky")
        with time_machine.travel(start, tick=False), after_commit():
            events.publish(ParcelSent("old"))
        with after_commit():
            events.publish(ParcelSent("recent"))
        assert events.events_prune() == 1
        assert sorted(e.payload["parcel"] for e in Event.objects.all()) == ["kept", "recent"]
        assert flaky.seen == []

    def test_registries_refuse_a_second_plugin_under_one_name(self) -> None:
        registry: Registry[Callable[[], None]] = Registry("test plugin")

        def first() -> None: ...

        def second() -> None: ...

        registry.register("name", first)
        registry.register("name", first)  # the same plugin again: no-op
        with pytest.raises(AlreadyRegistered):
            registry.register("name", second)
        assert registry["name"] is first
        with pytest.raises(AlreadyRegistered):
            events.subscribe(CaseStatusChanged, second, name="licenses.issue_on_approval")


def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("root", password=f.PASSWORD)
    TOTPDevice.objects.create(user=user, name="d", confirmed=True, key=f.TOTP_KEY)
    client = Client()
    response = client.post(
        "/workbench/login/", {"username": "root", "password": f.PASSWORD, "otp": f.otp_now()}
    )
    assert response.status_code == 302
    return client


# ---------------------------------------------------------------- the real consequences


@pytest.fixture
def ready(db: Any) -> durability_world.Ready:
    return durability_world.build(after_commit)


def approve_all(ready: durability_world.Ready) -> None:
    users = get_user_model().objects
    for case, username in (
        (ready.licensed_case, ready.reviewer_username),
        (ready.upstream_case, ready.bundle_reviewer_username),
        (ready.cross_region_case, ready.handling_reviewer_username),
    ):
        with after_commit():
            reviewer = actor_for_user(users.get(username=username))
            case_transition(actor=reviewer, case_id=case, action="approve")


EXACTLY_ONCE = {
    "licences": 1,
    "downstream_status": "submitted",
    "downstream_releases": 1,
    "approvals_reported": 1,
    "received_remote_status": "approved",
    "status_messages_sent": 1,
    "pending_deliveries": 0,
}
NOTHING_YET = {
    "licences": 0,
    "downstream_status": "waiting",
    "downstream_releases": 0,
    "approvals_reported": 0,
    "received_remote_status": "under_review",
    "status_messages_sent": 0,
}


def fail_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Make `owner.name` raise on its first call only; returns the call count (one item)."""
    original = getattr(owner, name)
    calls = [0]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise ConnectionError(f"{name} failed once")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return calls


class TestConsequencesOfApproval:
    def test_each_consequence_happens_once_when_nothing_fails(
        self, ready: durability_world.Ready
    ) -> None:
        approve_all(ready)
        assert durability_world.consequences(ready) == EXACTLY_ONCE

    def test_handlers_that_raise_end_with_each_consequence_exactly_once_after_the_retry(
        self, ready: durability_world.Ready, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        fail_once(monkeypatch, license_issuance, "_license_issue")
        fail_once(monkeypatch, bundles, "bundle_case_progress")
        fail_once(monkeypatch, crossregion, "message_send")
        approve_all(ready)  # each approval commits; its handler fails
        assert durability_world.consequences(ready) == {**NOTHING_YET, "pending_deliveries": 3}
        failed = EventDelivery.objects.filter(status=DeliveryStatus.PENDING)
        assert sorted(d.handler for d in failed) == [
            "cases.bundles.progress",
            "cases.crossregion.report",
            "licenses.issue_on_approval",
        ]
        assert {d.attempts for d in failed} == {1}

        with after_commit():
            assert events.deliveries_due(now=clock.now() + timedelta(minutes=1)) == 3
        assert durability_world.consequences(ready) == EXACTLY_ONCE
        with after_commit():
            assert events.deliveries_due(now=clock.now() + timedelta(days=1)) == 0
        assert durability_world.consequences(ready) == EXACTLY_ONCE

    def test_applying_an_event_twice_changes_nothing_the_second_time(
        self, ready: durability_world.Ready
    ) -> None:
        approve_all(ready)
        before = durability_world.consequences(ready)
        for case in (ready.licensed_case, ready.upstream_case, ready.cross_region_case):
            event = CaseStatusChanged(case, "approve", "under_review", "approved")
            for name in (
                "licenses.issue_on_approval",
                "cases.bundles.progress",
                "cases.crossregion.report",
            ):
                with after_commit():
                    events.SUBSCRIPTIONS[name].handler(event)
        assert durability_world.consequences(ready) == before == EXACTLY_ONCE

    def test_a_retried_status_report_never_overtakes_a_later_one(
        self, ready: durability_world.Ready, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        fail_once(monkeypatch, crossregion, "message_send")
        reviewer = actor_for_user(
            get_user_model().objects.get(username=ready.handling_reviewer_username)
        )
        for action in ("approve", "complete"):  # approve's report fails, complete's succeeds
            with after_commit():
                case_transition(actor=reviewer, case_id=ready.cross_region_case, action=action)
        with after_commit():
            events.deliveries_due(now=clock.now() + timedelta(minutes=1))
        from tongban.cases.models import ReceivedApplication

        received = ReceivedApplication.objects.get(pk=ready.received_id)
        assert [e["action"] for e in received.timeline][-3:] == [
            "start_review",
            "approve",
            "complete",
        ]
        assert received.remote_status == "completed"
        assert durability_world.consequences(ready)["status_messages_sent"] == 1


# ---------------------------------------------------------------- killed between commit and handler


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A database and file tree of its own for child processes (they commit for real)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tongban.config.settings.test",
        "TONGBAN_TEST_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
    }
    if connection.vendor != "postgresql":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'durability.sqlite3'}"
        yield env
        return
    import psycopg

    params = connection.settings_dict
    name = f"tongban_durability_{uuid.uuid4().hex[:12]}"
    admin_url = f"postgresql://{params['USER']}@{params['HOST']}:{params['PORT']}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{name}"
    try:
        yield env
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.durability_child", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_process_killed_between_commit_and_handler_loses_no_consequence(
    own_database: dict[str, str], tmp_path: Path
) -> None:
    state = str(tmp_path / "ready.json")
    built = child(own_database, "build", state)
    assert built.returncode == 0, built.stderr[-3000:]

    for kind in ("licence", "bundle", "cross_region"):
        approved = child(own_database, "approve", state, kind)
        assert approved.returncode == -9, approved.stderr[-3000:]  # SIGKILL after commit

    report = child(own_database, "report", state)
    assert report.returncode == 0, report.stderr[-3000:]
    lost = json.loads(report.stdout)
    # The approvals committed; none of their consequences ran: each approval's three
    # subscribers (licence, 一件事, 跨省通办) wait as deliveries.
    assert {k: lost[k] for k in NOTHING_YET} == NOTHING_YET
    assert lost["pending_deliveries"] == 3 * 3

    for _ in range(2):  # the periodic retry, twice: the second finds nothing to do
        recovered = child(own_database, "recover", state)
        assert recovered.returncode == 0, recovered.stderr[-3000:]
        report = child(own_database, "report", state)
        assert json.loads(report.stdout) == EXACTLY_ONCE


def test_events_are_dataclasses_with_registered_names() -> None:
    assert events.event_name(CaseStatusChanged) == "cases.case_status_changed"
    with pytest.raises(TypeError):
        events.event_name(dict)
    assert dataclasses.is_dataclass(ParcelSent)

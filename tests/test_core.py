"""Kernel: IDs, masking, working days, audit chain."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from tongban.cli import main as cli_main
from tongban.core import clock
from tongban.core.audit import audit_record_append, audit_verify
from tongban.core.calendar import Calendar, missing_official_years
from tongban.core.errors import InvalidInput
from tongban.core.ids import validate_resident_id, validate_uscc
from tongban.core.masking import mask
from tongban.core.models import AuditRecord, CalendarYear, Holiday, HolidayKind
from tongban.core.services import calendar_seed_year, divisions_load

from .tamper import as_dba


class TestResidentId:
    def test_valid_number_is_normalised(self) -> None:
        assert validate_resident_id("11010519491231002x") == "11010519491231002X"

    @pytest.mark.parametrize(
        ("number", "code"),
        [
            ("1101051949123100", "id_number_length"),
            ("1101051949123100A2", "id_number_format"),
            ("110105194913310021", "id_number_birth_date"),
            ("110105194912310021", "id_number_checksum"),
        ],
    )
    def test_each_rejection_has_its_reason(self, number: str, code: str) -> None:
        with pytest.raises(InvalidInput) as error:
            validate_resident_id(number)
        assert error.value.code == code
        assert "身份证" in error.value.message

    def test_unknown_but_wellformed_address_code_is_accepted(self) -> None:
        # 330113 临平区 (2021) is missing from python-stdnum's list; old codes must pass too.
        from tongban.core.ids import synthetic_id_number

        number = synthetic_id_number("330113", date(1999, 9, 9), 7)
        assert validate_resident_id(number) == number


class TestUscc:
    def test_valid(self) -> None:
        assert validate_uscc("91110000600037341L") == "91110000600037341L"

    @pytest.mark.parametrize(
        ("code", "reason"),
        [
            ("9111000060003734", "uscc_length"),
            ("91110000600037341I", "uscc_format"),
            ("91110000600037341M", "uscc_checksum"),
        ],
    )
    def test_rejections(self, code: str, reason: str) -> None:
        with pytest.raises(InvalidInput) as error:
            validate_uscc(code)
        assert error.value.code == reason


class TestMasking:
    def test_id_number(self) -> None:
        assert mask("44010619900307123X", "id_number") == "440106********123X"

    def test_phone(self) -> None:
        assert mask("13800138000", "phone") == "138****8000"

    @pytest.mark.parametrize(
        ("name", "masked"),
        [("张", "*"), ("张三", "张*"), ("欧阳明", "欧*明"), ("司马相如", "司**如")],
    )
    def test_name(self, name: str, masked: str) -> None:
        assert mask(name, "name") == masked

    def test_address_keeps_county(self) -> None:
        assert mask("广东省广州市天河区体育西路103号", "address") == "广东省广州市天河区" + "*" * 8

    def test_empty(self) -> None:
        assert mask("", "phone") == ""


@pytest.mark.django_db
class TestWorkingDays:
    def test_deadline_skips_the_national_day_holiday(self) -> None:
        calendar_seed_year(year=2026)
        calendar = Calendar.load()
        # Accepted Wed 2026-09-30; 1–7 Oct are off; Thu 8, Fri 9 and Sat 10 Oct (make-up) count.
        assert not calendar.is_workday(date(2026, 10, 1))
        result = calendar.add_working_days(date(2026, 9, 30), 3)
        assert result.day == date(2026, 10, 10)
        assert result.estimated is False
        assert calendar.add_working_days(date(2026, 9, 30), 4).day == date(2026, 10, 12)

    def test_makeup_workday_counts(self) -> None:
        Holiday.objects.create(date=date(2026, 2, 14), kind=HolidayKind.MAKEUP_WORKDAY, name="春节")
        CalendarYear.objects.create(year=2026, is_official=True)
        calendar = Calendar.load()
        assert calendar.is_workday(date(2026, 2, 14))  # a Saturday
        # Fri 13 Feb + 1 working day = Sat 14 Feb (make-up day)
        assert calendar.add_working_days(date(2026, 2, 13), 1).day == date(2026, 2, 14)

    def test_edited_holiday_changes_deadline(self) -> None:
        CalendarYear.objects.create(year=2026, is_official=True)
        assert Calendar.load().add_working_days(date(2026, 6, 1), 1).day == date(2026, 6, 2)
        Holiday.objects.create(date=date(2026, 6, 2), kind=HolidayKind.HOLIDAY, name="地方假日")
        assert Calendar.load().add_working_days(date(2026, 6, 1), 1).day == date(2026, 6, 3)

    def test_year_without_official_data_falls_back_to_weekends_and_says_so(self) -> None:
        assert calendar_seed_year(year=2027) == 0
        assert CalendarYear.objects.get(year=2027).is_official is False
        calendar = Calendar.load()
        result = calendar.add_working_days(date(2027, 1, 1), 5)  # Fri 1 Jan 2027
        assert result.day == date(2027, 1, 8)
        assert result.estimated is True
        assert missing_official_years(2026, 2027) == [2026, 2027]

    def test_deadline_crossing_into_unofficial_year_is_estimated(self) -> None:
        calendar_seed_year(year=2026)
        calendar_seed_year(year=2027)
        result = Calendar.load().add_working_days(date(2026, 12, 28), 10)
        assert result.estimated is True

    def test_seed_matches_the_published_2026_schedule(self) -> None:
        """chinese_calendar's 2026 data agrees with the State Council notice (holiday-cn copy)."""
        calendar_seed_year(year=2026)
        calendar = Calendar.load()
        published = {
            date(2026, 2, 14): True,
            date(2026, 2, 16): False,
            date(2026, 2, 23): False,
            date(2026, 2, 28): True,
            date(2026, 9, 20): True,
            date(2026, 9, 25): False,
            date(2026, 10, 7): False,
            date(2026, 10, 10): True,
        }
        assert {day: calendar.is_workday(day) for day in published} == published
        assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 8)) == 1


@pytest.mark.django_db
class TestDivisions:
    def test_seed_has_five_levels_for_two_provinces(self) -> None:
        from tongban.core.models import Division

        divisions_load()
        assert Division.objects.get(code="000000").level == "nation"
        for province in ("440000", "330000"):
            assert Division.objects.get(code=province).parent_id == "000000"
        township = Division.objects.filter(level="township", code__startswith="440106").first()
        assert township is not None
        assert township.parent.code == "440106"
        assert township.parent.parent.code == "440100"
        assert Division.objects.get(code="440106").contains(township.code)
        assert not Division.objects.get(code="330000").contains("440106")


@pytest.mark.django_db
class TestAuditChain:
    def _three(self) -> list[AuditRecord]:
        return [
            audit_record_append(actor="t", action=f"a{i}", object_type="x", object_id=str(i))
            for i in range(3)
        ]

    def test_intact_chain_verifies(self) -> None:
        self._three()
        report = audit_verify()
        assert report.ok and report.checked == 3

    def test_edited_record_is_reported(self) -> None:
        records = self._three()
        with as_dba():
            AuditRecord.objects.filter(pk=records[1].pk).update(outcome="denied")
        report = audit_verify()
        assert not report.ok
        assert report.first_bad_sequence == 2
        assert "edited" in report.problem

    def test_deleted_record_is_reported(self) -> None:
        records = self._three()
        with as_dba():
            AuditRecord.objects.filter(pk=records[1].pk).delete()
        report = audit_verify()
        assert (report.ok, report.first_bad_sequence) == (False, 2)
        assert "deleted" in report.problem

    def test_reordered_records_are_reported(self) -> None:
        records = self._three()
        # Swap the contents of #2 and #3 while keeping their sequence numbers.
        a, b = AuditRecord.objects.get(pk=records[1].pk), AuditRecord.objects.get(pk=records[2].pk)
        with as_dba():
            AuditRecord.objects.filter(pk=a.pk).update(
                action=b.action, object_id=b.object_id, record_hash="tmp"
            )
            AuditRecord.objects.filter(pk=b.pk).update(
                action=a.action, object_id=a.object_id, record_hash=a.record_hash
            )
            AuditRecord.objects.filter(pk=a.pk).update(record_hash=b.record_hash)
        report = audit_verify()
        assert (report.ok, report.first_bad_sequence) == (False, 2)

    def test_truncated_tail_is_reported(self) -> None:
        records = self._three()
        with as_dba():
            AuditRecord.objects.filter(pk=records[2].pk).delete()
        report = audit_verify()
        assert not report.ok
        assert "truncated" in report.problem

    def test_cli_exit_code(self, capsys: Any, settings: Any) -> None:
        records = self._three()
        assert cli_main(["audit", "verify"]) == 0
        with as_dba():
            AuditRecord.objects.filter(pk=records[0].pk).update(actor="mallory")
        assert cli_main(["audit", "verify"]) == 1
        assert "#1" in capsys.readouterr().out

    def test_application_role_cannot_update_or_delete(self) -> None:
        from django.db import DatabaseError, transaction

        records = self._three()
        attempts = [lambda: AuditRecord.objects.filter(pk=records[0].pk).update(outcome="denied")]
        if connection.vendor == "postgresql":  # SQLite keeps DELETE for test flushes (ADR 0003)
            attempts.append(lambda: AuditRecord.objects.filter(pk=records[0].pk).delete())
        for attempt in attempts:
            with pytest.raises(DatabaseError), transaction.atomic():
                attempt()
        assert audit_verify().ok and audit_verify().checked == 3

    def test_management_command(self) -> None:
        self._three()
        call_command("audit_verify")
        assert connection.vendor in {"sqlite", "postgresql"}

    def test_plain_sql_append_stores_what_the_orm_would(self) -> None:
        """The append is plain SQL (core.sql): the stored row reads back field for field."""
        record = audit_record_append(
            actor="staff:7",
            action="case.accept",
            object_type="case",
            object_id="x" * 80,  # cut to the column's 64
            detail={"号": "粤A", "n": [1, 2], "nested": {"ok": True}},
        )
        stored = AuditRecord.objects.get(pk=record.pk)
        for field in AuditRecord._meta.concrete_fields:
            assert getattr(stored, field.attname) == getattr(record, field.attname), field.name
        assert stored.object_id == "x" * 64
        assert audit_verify().ok

    def test_new_row_is_inserted_with_its_record(self) -> None:
        """`new_row`: the row and the record about it are written together, the record names
        the row's key, and both roll back together."""
        from django.db import transaction

        from tongban.exchange.models import DataUseRecord

        from .factories import department, division_tree

        division_tree()
        owner = department()

        def row(purpose: str) -> DataUseRecord:
            return DataUseRecord(
                occurred_at=clock.now(),
                kind="lookup",
                caller="system:1",
                department=owner,
                subject_key="k" * 64,
                subject_masked="4401**********1234",
                elements=["person.name"],
                purpose=purpose,
                outcome="answered",
                unmasked=True,
            )

        first = row("P1")
        record = audit_record_append(
            actor="system:1", action="exchange.lookup", object_type="data_use_record", new_row=first
        )
        assert first.pk is not None and not first._state.adding
        assert record.object_id == str(first.pk)
        stored = DataUseRecord.objects.get(pk=first.pk)
        assert (stored.elements, stored.purpose, stored.unmasked) == (["person.name"], "P1", True)
        assert stored.department_id == first.department_id
        second = row("P2")
        audit_record_append(actor="system:1", action="exchange.lookup", new_row=second)
        assert second.pk != first.pk

        with pytest.raises(RuntimeError), transaction.atomic():
            audit_record_append(actor="system:1", action="exchange.lookup", new_row=row("P3"))
            raise RuntimeError("rolled back")
        assert not DataUseRecord.objects.filter(purpose="P3").exists()
        report = audit_verify()
        assert report.ok and report.checked == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the optimistic append is PostgreSQL's (SQLite serialises writers itself)",
)
@pytest.mark.django_db(transaction=True)
class TestOptimisticAppend:
    """PostgreSQL outside a transaction: compare-and-set on the chain head (ADR 0015)."""

    @pytest.fixture(autouse=True)
    def _world(self) -> Any:
        from tongban.core import audit

        from .factories import department, division_tree

        audit.forget_head()
        division_tree()
        self.owner = department()
        yield
        audit.forget_head()

    def _append(self, purpose: str) -> tuple[AuditRecord, Any]:
        from tongban.exchange.models import DataUseRecord

        row = DataUseRecord(
            occurred_at=clock.now(),
            kind="lookup",
            caller="system:1",
            department=self.owner,
            subject_key="k" * 64,
            subject_masked="4401**********1234",
            elements=["person.name"],
            purpose=purpose,
            outcome="answered",
        )
        record = audit_record_append(
            actor="system:1", action="exchange.lookup", object_type="data_use_record", new_row=row
        )
        return record, row

    def _consistent(self, count: int) -> None:
        from tongban.exchange.models import DataUseRecord

        report = audit_verify()
        assert report.ok and report.checked == count, report.describe()
        rows = set(DataUseRecord.objects.values_list("pk", flat=True))
        named = {int(r.object_id) for r in AuditRecord.objects.filter(action="exchange.lookup")}
        assert rows == named  # every row has its record and no record names a missing row

    def test_usual_append_is_one_statement(self) -> None:
        from django.test.utils import CaptureQueriesContext

        from tongban.exchange.models import DataUseRecord

        self._append("P0")  # creates the head (the lock path), which this process then knows
        self._append("P1")  # draws the next row's key ahead
        with CaptureQueriesContext(connection) as queries:
            record, row = self._append("P2")
        assert len(queries) == 1, [q["sql"][:80] for q in queries]
        assert queries[0]["sql"].startswith("WITH moved AS (UPDATE")
        assert not connection.in_atomic_block and connection.get_autocommit()
        stored = AuditRecord.objects.get(pk=record.pk)
        for field in AuditRecord._meta.concrete_fields:
            assert getattr(stored, field.attname) == getattr(record, field.attname), field.name
        assert DataUseRecord.objects.get(pk=row.pk).purpose == "P2"
        assert record.object_id == str(row.pk)
        self._consistent(3)

    def test_stale_head_is_retried_with_the_head_the_statement_saw(self) -> None:
        from django.test.utils import CaptureQueriesContext

        from tongban.core import audit

        first, _ = self._append("P1")
        self._append("P2")
        audit._head_seen[:] = [(first.sequence, first.record_hash)]  # another process wrote since
        with CaptureQueriesContext(connection) as queries:
            record, _ = self._append("P3")
        assert len(queries) == 2  # the conflict, then the write
        assert record.sequence == 3
        self._consistent(3)

    def test_while_racing_another_process_it_reads_the_head_first(self) -> None:
        """When most recent appends found the head moved by someone else, trying the
        remembered head would waste a whole sealed statement: read it first instead; once
        the race is over, go back to one statement."""
        from django.test.utils import CaptureQueriesContext

        from tongban.core import audit

        self._append("P0")
        self._append("P1")
        audit._moved_by_others.extend([True] * 16)  # as if another process wrote in between
        with CaptureQueriesContext(connection) as queries:
            self._append("P2")
        assert [q["sql"].split()[0] for q in queries] == ["SELECT", "WITH"]
        for index in range(16):  # nobody else writes: the evidence turns
            self._append(f"Q{index}")
        with CaptureQueriesContext(connection) as queries:
            self._append("P3")
        assert len(queries) == 1
        self._consistent(20)

    def test_lasting_conflicts_fall_back_to_the_lock(self, monkeypatch: Any) -> None:
        from tongban.core import audit

        first, _ = self._append("P1")
        self._append("P2")
        monkeypatch.setattr(audit, "OPTIMISTIC_ATTEMPTS", 1)
        audit._head_seen[:] = [(first.sequence, first.record_hash)]
        record, row = self._append("P3")  # one conflict allowed: the lock path writes it
        assert record.sequence == 3 and record.object_id == str(row.pk)
        self._consistent(3)

    def test_refused_key_drawn_ahead_writes_nothing_half(self) -> None:
        from tongban.core import audit
        from tongban.core.sql import pk_sequence
        from tongban.exchange.models import DataUseRecord

        _, taken = self._append("P1")
        audit._keys_ahead[pk_sequence(DataUseRecord)] = [taken.pk]  # as after a restore
        record, row = self._append("P2")
        assert row.pk != taken.pk and record.sequence == 2
        self._consistent(2)

    def test_concurrent_appends_keep_one_chain(self) -> None:
        from .threads import run_at_once

        self._append("warm")

        def worker(number: int) -> None:
            for index in range(15):
                self._append(f"T{number}-{index}")

        assert run_at_once(worker, 4) == []
        self._consistent(61)


class TestSM2:
    # A key whose public x coordinate starts with "04": gmssl's constructor would strip it.
    PRIVATE_04 = "fad097e5a6743d8e4ea0b8781c2220912c29deab317f865cdf986827b2075121"

    def test_sign_and_verify(self) -> None:
        from tongban.core.crypto import sm2_keypair, sm2_sign, sm2_verify

        private_hex, public_hex = sm2_keypair()
        signature = sm2_sign(private_hex, "电子证照".encode())
        assert len(signature) == 64
        assert sm2_verify(public_hex, "电子证照".encode(), signature)
        assert sm2_verify("04" + public_hex, "电子证照".encode(), signature)
        assert not sm2_verify(public_hex, "电子证照!".encode(), signature)
        assert not sm2_verify(sm2_keypair()[1], "电子证照".encode(), signature)
        assert not sm2_verify(public_hex, "电子证照".encode(), bytes(64))
        assert not sm2_verify("zz" * 64, b"x", signature)

    def test_a_public_key_starting_with_04_works(self) -> None:
        from tongban.core.crypto import sm2_public_key, sm2_sign, sm2_verify

        public_hex = sm2_public_key(self.PRIVATE_04)
        assert public_hex.startswith("04") and len(public_hex) == 128
        assert sm2_verify(public_hex, b"data", sm2_sign(self.PRIVATE_04, b"data"))

    @pytest.mark.parametrize("fixed", [True, False], ids=["key-starting-04", "fresh-key"])
    def test_encryption_round_trip_and_gmssl_reads_it(self, fixed: bool) -> None:
        from tongban.core.crypto import (
            _crypt_sm2,
            sm2_decrypt,
            sm2_encrypt,
            sm2_keypair,
            sm2_public_key,
        )

        private_hex, public_hex = sm2_keypair()
        if fixed:  # gmssl's constructor strips leading "0"/"4" characters of such a key
            private_hex, public_hex = self.PRIVATE_04, sm2_public_key(self.PRIVATE_04)
        key = bytes(range(16))
        sealed = sm2_encrypt(public_hex, key)
        assert len(sealed) == 64 + 32 + 16 and key not in sealed
        assert sm2_encrypt(public_hex, key) != sealed  # a fresh ephemeral key each time
        assert sm2_decrypt(private_hex, sealed) == key
        # gmssl's own object (through the helper that sets the key past its constructor, which
        # corrupts keys starting with "04"), reading and writing C1‖C3‖C2 (mode 1).
        reference = _crypt_sm2(private_hex, public_hex)
        reference.mode = 1
        assert reference.decrypt(sealed) == key  # GB/T 32918.4 C1‖C3‖C2, as gmssl reads it
        assert sm2_decrypt(private_hex, reference.encrypt(key)) == key

    def test_decryption_refuses_another_key_and_any_change(self) -> None:
        from tongban.core.crypto import SM2DecryptError, sm2_decrypt, sm2_encrypt, sm2_keypair

        private_hex, public_hex = sm2_keypair()
        sealed = sm2_encrypt(public_hex, b"data key 16 byte")
        with pytest.raises(SM2DecryptError):
            sm2_decrypt(sm2_keypair()[0], sealed)
        for index in (0, 70, len(sealed) - 1):  # C1 (off the curve), C3, C2
            altered = bytearray(sealed)
            altered[index] ^= 0x01
            with pytest.raises(SM2DecryptError):
                sm2_decrypt(private_hex, bytes(altered))
        with pytest.raises(SM2DecryptError):
            sm2_decrypt(private_hex, sealed[:96])

"""Material file housekeeping: files left by rolled-back submissions are deleted (they hold
applicants' documents; GB/T 35273: delete what is no longer needed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tongban.core import clock
from tongban.core.audit import audit_record_append

from .. import errors
from ..models import MaterialSubmission

MATERIAL_ROOT = "materials"
SWEEP_MIN_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class SweepResult:
    checked: int  # files under materials/ old enough to be judged
    deleted: int  # of them, referenced by no submitted material
    bytes_freed: int
    dry_run: bool


def materials_sweep(
    *, older_than: timedelta = timedelta(hours=24), dry_run: bool = False
) -> SweepResult:
    """Delete material files that no `MaterialSubmission` refers to.

    A submission writes its files before its transaction commits; when the transaction rolls
    back (refused, failed, a worker killed mid-request) the rows vanish and the files stay.
    They hold applicants' documents, so keeping them would keep personal data with no purpose
    (GB/T 35273: delete what is no longer needed). Only files older than `older_than` (at
    least an hour) are judged, so a submission still in flight is never touched. The sweep is
    audited with counts, never file names. Periodic: `tongban.cases.materials_sweep` (daily);
    by hand: `tongban materials sweep`."""
    if older_than < SWEEP_MIN_AGE:
        raise errors.SWEEP_TOO_YOUNG.error()
    storage = MaterialSubmission._meta.get_field("file").storage
    cutoff = clock.now() - older_than
    checked = deleted = freed = 0
    for directory, names in _material_files(storage, MATERIAL_ROOT):
        old = [
            f"{directory}/{name}"
            for name in names
            if storage.get_modified_time(f"{directory}/{name}") < cutoff
        ]
        for start in range(0, len(old), 500):
            batch = old[start : start + 500]
            referenced = set(
                MaterialSubmission.objects.filter(file__in=batch).values_list("file", flat=True)
            )
            checked += len(batch)
            for name in batch:
                if name in referenced:
                    continue
                deleted += 1
                freed += storage.size(name)
                if not dry_run:
                    storage.delete(name)
    if deleted and not dry_run:
        audit_record_append(
            actor="system:housekeeping",
            action="materials.sweep",
            object_type="storage",
            object_id=MATERIAL_ROOT,
            detail={"checked": checked, "deleted": deleted, "bytes": freed},
        )
    return SweepResult(checked, deleted, freed, dry_run)


def _material_files(storage: Any, directory: str) -> Any:
    """(directory, file names) for `directory` and every directory below it."""
    if not storage.exists(directory):
        return
    directories, files = storage.listdir(directory)
    yield directory, files
    for child in sorted(directories):
        yield from _material_files(storage, f"{directory}/{child}")

"""Periodic tasks of the cases app (Celery beat; in-process in `tongban demo`)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tongban.cases.stuck_detect", ignore_result=True)
def stuck_detect() -> dict[str, int]:
    """中梗阻 sweep: raise alerts for steps and hand-offs waiting past their thresholds and
    close those that moved on. Suggested interval: every 10 minutes."""
    from .supervision.services import stuck_detect as sweep

    result = sweep()
    return {"raised": result.raised, "closed": result.closed}


@shared_task(name="tongban.cases.deadline_warn", ignore_result=True)
def deadline_warn() -> dict[str, int]:
    """Deadline warnings: alerts for running cases that turned yellow (黄灯) or red (红灯).
    Suggested interval: hourly (colours change at the start of a day)."""
    from .supervision.services import deadline_warn as warn

    result = warn()
    return {"raised": result.raised, "closed": result.closed}


@shared_task(name="tongban.cases.materials_sweep", ignore_result=True)
def materials_sweep() -> dict[str, int]:
    """Delete material files left by rolled-back submissions (older than a day). Daily."""
    from .submission.materials import materials_sweep as sweep

    result = sweep()
    return {"checked": result.checked, "deleted": result.deleted, "bytes": result.bytes_freed}

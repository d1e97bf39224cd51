"""A process of its own for the durability tests (ADR 0019), against the database in
DATABASE_URL and the files in TONGBAN_TEST_DIR:

    python -m tests.durability_child build STATE      migrate, build the world, write STATE
    python -m tests.durability_child approve STATE KIND
                                                      approve one case and die by SIGKILL the
                                                      moment its transaction has committed
    python -m tests.durability_child recover STATE    run the periodic retry (an hour later)
    python -m tests.durability_child report STATE     print what the approvals led to (JSON)
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tongban.config.settings.test")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tongban.cases.submission.services import case_transition
    from tongban.core import clock, events
    from tongban.identity.selectors import actor_for_user

    from . import durability_world

    step, state_path = argv[0], Path(argv[1])
    if step == "build":
        call_command("migrate", interactive=False, verbosity=0)
        ready = durability_world.build()
        state_path.write_text(json.dumps(dataclasses.asdict(ready)), encoding="utf-8")
        return 0
    ready = durability_world.Ready(**json.loads(state_path.read_text(encoding="utf-8")))
    if step == "approve":
        case, username = {
            "licence": (ready.licensed_case, ready.reviewer_username),
            "bundle": (ready.upstream_case, ready.bundle_reviewer_username),
            "cross_region": (ready.cross_region_case, ready.handling_reviewer_username),
        }[argv[2]]

        def die(event_id: str) -> None:  # the crash: after commit, before any handler
            os.kill(os.getpid(), signal.SIGKILL)

        events._queue = die  # type: ignore[assignment]
        reviewer = actor_for_user(get_user_model().objects.get(username=username))
        case_transition(actor=reviewer, case_id=case, action="approve")
        print("the approval committed and the process was not killed", file=sys.stderr)
        return 3
    if step == "recover":
        delivered = events.deliveries_due(now=clock.now() + timedelta(hours=1))
        print(json.dumps({"delivered": delivered}))
        return 0
    if step == "report":
        print(json.dumps(durability_world.consequences(ready)))
        return 0
    print(f"unknown step {step}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run one function in several threads at once, as concurrent requests would."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(work: Callable[[int], None], threads: int) -> list[BaseException]:
    """Call `work(0)` … `work(threads - 1)`, each in its own thread with its own database
    connection (closed when it ends); return what they raised."""
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            work(number)
        except BaseException as error:  # returned to the test
            errors.append(error)
        finally:
            connection.close()

    started = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return errors

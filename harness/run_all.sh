#!/usr/bin/env bash
# Reliability harness (issue 3): crash under load, approvals under kill -9, the production
# topology on Redis and on RabbitMQ, dependency faults, saturation — in sequence, each under
# its own time limit. Exits non-zero if any fails. See harness/README.md.
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; HARNESS_PG_URL overrides),
# Redis on 127.0.0.1:6379 (the topology claims an empty database among 8–14 and flushes it;
# HARNESS_REDIS_URL names one instead), RabbitMQ on 127.0.0.1:5672 (HARNESS_AMQP_URL,
# guest/guest on /; a queue of the run's own) and the project installed: pip install -e '.[test]'.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -n "${PYTHON:-}" ]; then
  py="$PYTHON"
elif [ -x .venv/bin/python ]; then
  py=.venv/bin/python
else
  py=python3
fi

export HARNESS_RUN_TAG="run$$"
HARNESS_RUN_DIR="$(mktemp -d -t tongban-harness-XXXXXX)"
export HARNESS_RUN_DIR
pg_admin="${HARNESS_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

cleanup() {
  # A scenario killed by its time limit may leave its gunicorn, Celery worker and beat,
  # database, Redis database and RabbitMQ queue behind: stop the processes it recorded
  # (after checking the pid is still a gunicorn / celery; each leads its own process group),
  # drop this run's databases only (tongban_harness_<this run's tag>_*), flush the Redis
  # databases claimed with this run's tag only, and delete this run's queue only.
  for pidfile in "$HARNESS_RUN_DIR"/gunicorn-*.pid "$HARNESS_RUN_DIR"/celery-*.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    if grep -qE 'gunicorn|celery' "/proc/$pid/cmdline" 2>/dev/null; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  "$py" - "$pg_admin" "tongban_harness_${HARNESS_RUN_TAG}_" <<'PY' || true
import sys

import psycopg

url, prefix = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
    names = [
        row[0]
        for row in conn.execute("SELECT datname FROM pg_database")
        if row[0].startswith(prefix)
    ]
    for name in names:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"run_all: dropped leftover database {name}")
PY
  "$py" - "$HARNESS_RUN_TAG" <<'PY' || true
import contextlib
import os
import sys

import redis
from kombu import Connection

tag = sys.argv[1]
# The Redis databases the topology scenario claimed for this run (harness/topology.py).
for number in range(8, 15):
    with contextlib.suppress(Exception):
        client = redis.Redis(host="127.0.0.1", port=6379, db=number, socket_timeout=5)
        if client.get("tongban-harness:claim") == tag.encode():
            client.flushdb()
            print(f"run_all: flushed Redis database {number} left by this run")
queue = f"tongban-harness-{tag}-amqp"
url = os.environ.get("HARNESS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
with contextlib.suppress(Exception), Connection(url, connect_timeout=5) as conn:
    channel = conn.channel()
    channel.queue_delete(queue)
    channel.exchange_delete(queue)
PY
}
trap 'cleanup; rm -rf "$HARNESS_RUN_DIR"' EXIT

failed=()
began=$(date +%s)
run() {
  local name="$1" limit="$2"
  shift 2
  printf '\n######## %s (time limit %ss) ########\n' "$name" "$limit"
  local t0=$(date +%s)
  timeout --kill-after=15 "$limit" "$py" "$@"
  local rc=$?
  cleanup
  printf '######## %s: %s in %ss ########\n' "$name" \
    "$([ $rc -eq 0 ] && echo PASS || echo "FAIL (exit $rc)")" "$(( $(date +%s) - t0 ))"
  [ $rc -eq 0 ] || failed+=("$name")
}

run "crash under load (item 4)" 200 harness/crash_load.py
run "approvals under kill -9 (item 4, ADR 0019)" 200 harness/crash_approvals.py
run "topology: 2 gunicorns, Redis, worker, beat (item 4)" 170 harness/topology.py --broker redis
run "topology: 2 gunicorns, RabbitMQ, worker, beat (item 4)" 170 harness/topology.py --broker amqp
run "dependency faults (item 5)" 220 harness/dependency_faults.py
run "saturation (item 10)" 330 harness/saturation.py --attempts 2

printf '\n######## harness: %ss in all; ' "$(( $(date +%s) - began ))"
if [ ${#failed[@]} -eq 0 ]; then
  echo "all scenarios passed ########"
  exit 0
fi
echo "FAILED: ${failed[*]} ########"
exit 1

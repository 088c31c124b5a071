#!/bin/bash
# Samples what PostgreSQL's active client backends wait for, as RESULTS.md (issue 10, step 15)
# counts it: N samples 10 ms apart, each listing every active client backend as
# "<wait_event_type or CPU>:<wait_event or ->:<the first 40 characters of its statement>".
# Usage: pg-wait-sample.sh OUT N   (during a run; count with: sort OUT | uniq -c | sort -rn)
set -euo pipefail
out=$1
n=$2
for _ in $(seq 1 "$n"); do
  echo "SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-') || ':'"
  echo "  || left(regexp_replace(query, '\s+', ' ', 'g'), 40) FROM pg_stat_activity"
  echo "  WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid();"
  echo "SELECT pg_sleep(0.01);"
done | psql -h 127.0.0.1 -U root -d test -At > "$out"

#!/bin/bash
# Samples what PostgreSQL's active client backends wait for, as RESULTS.md (issue 10, step 15)
# counts it: N samples 10 ms apart, each listing every active client backend as
# "<wait_event_type or CPU>:<wait_event or ->:<the first 40 characters of its statement>".
# Usage: pg-wait-sample.sh OUT N   (during a run; count with: sort OUT | uniq -c | sort -rn; each
# pg_sleep adds an empty line, so the count of empty lines is N). The server is PGHOST, PGPORT,
# PGUSER and PGDATABASE, by default the test server: 127.0.0.1, 5432, root, test.
set -euo pipefail
out=$1
n=$2
for _ in $(seq 1 "$n"); do
  echo "SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-') || ':'"
  echo "  || left(regexp_replace(query, '\s+', ' ', 'g'), 40) FROM pg_stat_activity"
  echo "  WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid();"
  echo "SELECT pg_sleep(0.01);"
done | psql -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U "${PGUSER:-root}" \
  -d "${PGDATABASE:-test}" -At > "$out"

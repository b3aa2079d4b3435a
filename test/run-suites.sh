#!/usr/bin/env bash
# npm test (after the type-check): every suite on SQLite; when
# TEST_DATABASE_URL names a PostgreSQL server, the HTTP and unit suites run
# on it as well, at the same time (one process waits mostly on the disk,
# the other on the CPU: together they take little longer than the slower
# one). The PostgreSQL run's output is printed after the SQLite run's.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  exec npx mocha "$@"
fi

postgres_log=$(mktemp)
npm run --silent test:postgres >"$postgres_log" 2>&1 &
postgres_pid=$!

# The files that always use PostgreSQL (test/http/postgres-*.test.ts; one
# restarts the server) run in the PostgreSQL pass only, not twice at once.
# Without TEST_DATABASE_URL, createTestContext gives SQLite files.
echo "== SQLite: every suite"
env -u TEST_DATABASE_URL npx mocha --ignore 'test/http/postgres-*.test.ts' "$@"
sqlite_status=$?

wait "$postgres_pid"
postgres_status=$?
echo
echo "== PostgreSQL ($TEST_DATABASE_URL): the unit and HTTP suites"
cat "$postgres_log"
rm -f "$postgres_log"

echo "npm test: SQLite exit $sqlite_status, PostgreSQL exit $postgres_status"
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ]

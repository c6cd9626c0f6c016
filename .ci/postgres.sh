# Sourced by .ci/run: exports TEST_DATABASE_URL when a Postgres server with trust auth answers
# on 127.0.0.1:5432, starting the machine's installed cluster first if it is stopped. When none
# can be had, TEST_DATABASE_URL stays unset and the test harness starts a private cluster from
# the installed binaries (see host/testkit).

pg_bin() {
  local tool=$1
  command -v "$tool" 2>/dev/null && return
  ls -d /usr/lib/postgresql/*/bin/"$tool" 2>/dev/null | sort -V | tail -n 1
}

pg_answers() {
  local psql
  psql=$(pg_bin psql)
  [ -n "$psql" ] && "$psql" "postgres://postgres@127.0.0.1:5432/postgres" -tAc 'select 1' >/dev/null 2>&1
}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! pg_answers && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    done
    for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
  fi
  if pg_answers; then
    export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
  fi
fi

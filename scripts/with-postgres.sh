#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster, for the case store's tests:
#   bash scripts/with-postgres.sh .venv/bin/python -m pytest
# The cluster lives in a `mktemp -d` folder (initdb, pg_ctl; no TCP, a unix socket in that
# folder), is stopped and removed when the command ends, and the command gets its URL in
# VOC_TEST_POSTGRES_URL. Debian's `postgresql` is installed when missing and we are root
# (or have passwordless sudo); otherwise the command runs without the URL and the
# PostgreSQL half of the store tests skips (it fails instead when VOC_REQUIRE_POSTGRES=1).
set -euo pipefail
if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

find_bindir() {
    local dir
    if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; then
        echo "$PG_BINDIR"; return 0
    fi
    # Debian keeps the server binaries off PATH, one folder per major version: newest first.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"; return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"; return 0
    fi
    return 1
}

if ! bindir=$(find_bindir); then
    if [ "$(id -u)" = 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "postgres tests: install postgresql (apt-get install postgresql) to run them" >&2
        exec "$@"
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "postgres tests: no apt-get here; install PostgreSQL by hand to run them" >&2
        exec "$@"
    fi
    echo "postgres tests: installing postgresql" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        postgresql
    if ! bindir=$(find_bindir); then
        echo "postgres tests: postgresql installed but initdb not found" >&2
        exec "$@"
    fi
fi

# Under /tmp whatever TMPDIR says: the `postgres` user must reach it, and a unix socket path
# must stay under ~100 characters.
dir=$(mktemp -d /tmp/voc-pg.XXXXXX)
# initdb refuses to run as root: as root the cluster belongs to the `postgres` OS user.
as_owner=()
if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    chown postgres "$dir"
    as_owner=(runuser -u postgres --)
fi
# Run a PostgreSQL tool as the cluster's owner, from the cluster's folder (`postgres` may
# not be allowed into the caller's).
as_owner_in_dir() { (cd "$dir" && "${as_owner[@]}" "$@"); }

cleanup() {
    as_owner_in_dir "$bindir/pg_ctl" -D "$dir/data" -m immediate -s stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_owner_in_dir "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
    --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
}
# Durability off: a throw-away cluster; this makes CREATE DATABASE per test cheap.
as_owner_in_dir "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s start -o \
    "-k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off \
     -c full_page_writes=off -c max_connections=200" || {
    cat "$dir/server.log" >&2
    exit 1
}
export VOC_TEST_POSTGRES_URL="postgresql+psycopg://postgres@/postgres?host=$dir"
"$@"

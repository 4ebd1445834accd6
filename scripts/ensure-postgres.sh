#!/bin/sh
# Make sure the PostgreSQL server binaries (initdb, pg_ctl) exist for the PostgreSQL adapter's
# tests; tests/conftest.py starts a throwaway server from them on a free port.
#
# Found on PATH or in /usr/lib/postgresql/<N>/bin: nothing to do. Missing, running as root with
# apt-get (fresh Debian/Ubuntu CI): install the `postgresql` package. Otherwise print a loud
# warning and exit 0: the PostgreSQL tests are then skipped, loudly. Set
# ALIEXPRESS_ONBOARDING_REQUIRE_POSTGRES=1 to exit 1 instead (CI that must run them).
set -u

found() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        return 0
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            return 0
        fi
    done
    return 1
}

warn() {
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "!! ensure-postgres: $1" >&2
    echo "!! The PostgreSQL adapter's tests will be SKIPPED (or fail, when" >&2
    echo "!! ALIEXPRESS_ONBOARDING_REQUIRE_POSTGRES=1)." >&2
    echo "!! Install PostgreSQL (Debian: apt-get install postgresql) to run them." >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    if [ "${ALIEXPRESS_ONBOARDING_REQUIRE_POSTGRES:-}" = "1" ]; then
        exit 1
    fi
    exit 0
}

if found; then
    exit 0
fi

if [ "$(id -u)" != "0" ]; then
    warn "no initdb/pg_ctl found, and not root: cannot install them"
fi
if ! command -v apt-get >/dev/null 2>&1; then
    warn "no initdb/pg_ctl found, and no apt-get to install them with"
fi

echo "ensure-postgres: installing PostgreSQL with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends postgresql; }; then
    warn "apt-get install postgresql failed"
fi
if ! found; then
    warn "postgresql was installed but initdb/pg_ctl are still not found"
fi
echo "ensure-postgres: PostgreSQL installed" >&2

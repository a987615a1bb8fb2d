#!/usr/bin/env bash
# The test command of this repository (README, CI): installs Prosody if needed,
# starts a private server on loopback, exports ESESSION_TEST_ENV for the
# real-server tests, runs `cargo test --workspace "$@"`, and stops the server.
#
# Usage: scripts/test.sh [extra cargo test arguments]
# Environment: ESESSION_C2S_PORT / ESESSION_TLS_PORT (default: first free pair
# from 15222 / 15223 upwards).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/prosody.sh install
server_dir=$(mktemp -d "${TMPDIR:-/tmp}/esession-prosody.XXXXXX")
cleanup() {
    "$root/scripts/prosody.sh" stop "$server_dir" || true
    rm -rf "$server_dir"
}
trap cleanup EXIT
# Default ports first; if another server holds them (someone else's tests on
# this machine), try the next pairs.
if [[ -n ${ESESSION_C2S_PORT:-} ]]; then
    scripts/prosody.sh start "$server_dir"
else
    started=0
    for base in 15222 15232 15242 15252 15262 15272 15282 15292; do
        if ESESSION_C2S_PORT=$base ESESSION_TLS_PORT=$((base + 1)) \
            scripts/prosody.sh start "$server_dir"; then
            started=1
            break
        fi
    done
    [[ $started == 1 ]] || { echo "test.sh: no free port pair for Prosody" >&2; exit 1; }
fi
export ESESSION_TEST_ENV=$server_dir/env

cargo test --workspace "$@"

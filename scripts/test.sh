#!/usr/bin/env bash
# The test command of this repository (README, CI): installs Prosody and ejabberd if
# needed, starts a private Prosody and a private two-node ejabberd cluster on loopback,
# exports ESESSION_TEST_ENV and ESESSION_EJABBERD_ENV for the real-server tests, runs
# `cargo test --workspace` against Prosody, then the real-server suites of the adapter and
# the CLI again against the cluster (ESESSION_TEST_SERVER=ejabberd: a test's first account
# on node 1, its second on node 2), and stops both servers.
#
# Usage: scripts/test.sh [extra cargo test arguments]
# With arguments, runs `cargo test ARGS` once (the virtual workspace: every crate unless
# ARGS name one with -p), against the server named by
# ESESSION_TEST_SERVER (prosody, the default, or ejabberd), which alone is started, e.g.
#   ESESSION_TEST_SERVER=ejabberd scripts/test.sh -p esession-cli --test offline
# Environment: ESESSION_C2S_PORT / ESESSION_TLS_PORT (default: first free pair
# from 15222 / 15223 upwards); ESESSION_EJABBERD_PORT (default: first free quadruple
# from 16222 upwards).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ $# == 0 ]]; then
    want_prosody=1 want_ejabberd=1
else
    case ${ESESSION_TEST_SERVER:-prosody} in
    prosody) want_prosody=1 want_ejabberd=0 ;;
    ejabberd) want_prosody=0 want_ejabberd=1 ;;
    *) echo "test.sh: ESESSION_TEST_SERVER must be prosody or ejabberd" >&2; exit 2 ;;
    esac
fi

server_dir=$(mktemp -d "${TMPDIR:-/tmp}/esession-prosody.XXXXXX")
cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/esession-ejabberd.XXXXXX")
cleanup() {
    if [[ $want_prosody == 1 ]]; then
        "$root/scripts/prosody.sh" stop "$server_dir" || true
    fi
    if [[ $want_ejabberd == 1 ]]; then
        "$root/scripts/ejabberd.sh" stop "$cluster_dir" || true
    fi
    rm -rf "$server_dir" "$cluster_dir"
}
trap cleanup EXIT

# `SCRIPT start DIR` on the ports its environment names, or else on the first free ones
# from FIRST upwards in steps of 10 (another server on this machine, e.g. someone else's
# tests, may hold the first); PORTS prints the environment for a base port.
start_server() {
    local script=$1 dir=$2 first=$3 ports=$4 set=$5 base
    if [[ -n $set ]]; then
        "scripts/$script" start "$dir"
        return
    fi
    for ((base = first; base < first + 80; base += 10)); do
        # shellcheck disable=SC2046 # the assignments split on purpose
        if env $("$ports" "$base") "scripts/$script" start "$dir"; then
            return 0
        fi
        "scripts/$script" stop "$dir" >/dev/null 2>&1 || true
    done
    echo "test.sh: no free ports for $script" >&2
    return 1
}
prosody_ports() { echo "ESESSION_C2S_PORT=$1 ESESSION_TLS_PORT=$(($1 + 1))"; }
ejabberd_ports() { echo "ESESSION_EJABBERD_PORT=$1"; }

if [[ $want_prosody == 1 ]]; then
    scripts/prosody.sh install
    start_server prosody.sh "$server_dir" 15222 prosody_ports "${ESESSION_C2S_PORT:-}"
    export ESESSION_TEST_ENV=$server_dir/env
fi
if [[ $want_ejabberd == 1 ]]; then
    scripts/ejabberd.sh install
    start_server ejabberd.sh "$cluster_dir" 16222 ejabberd_ports "${ESESSION_EJABBERD_PORT:-}"
    export ESESSION_EJABBERD_ENV=$cluster_dir/env
fi

if [[ $# != 0 ]]; then
    cargo test "$@"
    exit
fi

ESESSION_TEST_SERVER=prosody cargo test --workspace

# The real-server suites again, against the cluster (docs/testing.md says which and why).
# Not run there: the suites with no server at all (upgrade; the engine, store and client
# crates) and the tests of a suite that need no server or a server-independent check
# (hygiene but the SASL trace); below, by name, the tests that need something only the
# Prosody of these tests has.
on_cluster() {
    echo "test.sh: against the ejabberd cluster: cargo test $*"
    ESESSION_TEST_SERVER=ejabberd cargo test "$@"
}
prosody_only=(
    # A virtual host offering SASL PLAIN alone.
    --skip plain_only_server_is_refused_unless_allowed
    --skip plain_only_server_needs_allow_plain_auth
    # A Prosody of its own, stopped and restarted under the clients: on the cluster it
    # would only run the same Prosody again.
    --skip a_server_restart_is_reported_and_the_message_typed_meanwhile_is_delivered
    # The project's XEP-0136 module for Prosody: ejabberd has no XEP-0136 (MAM only);
    # archive_commands_name_a_missing_xep0136 checks that the client says so.
    --skip preferences_round_trip
    --skip upload_list_pages_retrieve_remove
)
on_cluster -p esession-xmpp --test real_server --test pubkeys --test pubsub \
    --test full_xep0116 --test link --test client_timers --test software_version \
    --test archive -- "${prosody_only[@]}"
on_cluster -p esession-cli --test real_server --test offline --test pubkeys \
    --test full_xep0116 --test chat --test jsonrpc --test tui --test setup \
    --test spoofing --test typed_jids --test crash_safety -- "${prosody_only[@]}"
on_cluster -p esession-cli --test archive -- archive_commands_name_a_missing_xep0136
on_cluster -p esession-cli --test hygiene -- trace_logging_never_shows_the_sasl_exchange

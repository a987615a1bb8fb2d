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

# The certificate a server's environment file names: exported for the test process, so
# that the tests' TLS connections trust it without the process changing its environment
# while its test threads run.
cert_of() { sed -n 's/^SSL_CERT_FILE=//p' "$1"; }

if [[ $# != 0 ]]; then
    if [[ $want_prosody == 1 ]]; then
        SSL_CERT_FILE=$(cert_of "$ESESSION_TEST_ENV") cargo test "$@"
    else
        SSL_CERT_FILE=$(cert_of "$ESESSION_EJABBERD_ENV") cargo test "$@"
    fi
    exit
fi

SSL_CERT_FILE=$(cert_of "$ESESSION_TEST_ENV") ESESSION_TEST_SERVER=prosody cargo test --workspace

# The real-server suites again, against the cluster (docs/testing.md says which and why),
# in one `cargo test --workspace` as above, so that the crates are built with the same
# features and not once more (`--test NAME` picks that suite in every crate that has one:
# the store's `offline` runs too, without a server). Not run there: the suites with no
# server (upgrade; the engine's and the store's) and, by name below, the tests that need no
# server or something only the Prosody of these tests has.
on_cluster() {
    echo "test.sh: against the ejabberd cluster: cargo test $*"
    SSL_CERT_FILE=$(cert_of "$ESESSION_EJABBERD_ENV") ESESSION_TEST_SERVER=ejabberd cargo test "$@"
}
prosody_only=(
    # A virtual host offering SASL PLAIN alone (esession-xmpp, esession-cli real_server).
    --skip plain_only_server_is_refused_unless_allowed
    --skip plain_only_server_needs_allow_plain_auth
    # A Prosody of its own, stopped and restarted (jsonrpc) or frozen and stopped (tui)
    # under the clients: on the cluster it would only run the same Prosody again.
    --skip a_server_restart_is_reported_and_the_message_typed_meanwhile_is_delivered
    --skip a_frozen_or_stopped_server_is_our_lost_connection_and_said_so
    # The project's XEP-0136 module for Prosody (both crates' archive): ejabberd has no
    # XEP-0136 (MAM only); archive_commands_name_a_missing_xep0136 checks that the client
    # says so, and archive_key_record_in_private_storage (XEP-0049) runs on both.
    --skip preferences_round_trip
    --skip upload_list_pages_retrieve_remove
    --skip may_session_is_archived_sealed_and_read_back_by_another_client
    --skip mustnot_session_leaves_nothing_in_any_archive
    --skip list_pages_through_more_collections_than_one_page
)
no_server=(
    # hygiene: the core-dump limit and the binary's content; its SASL trace test runs.
    --skip a_running_listener_has_core_dumps_off
    --skip the_binary_holds_no_transcript_of_secrets
)
suites=(real_server pubkeys pubsub full_xep0116 link conflict client_timers software_version offline
    chat jsonrpc tui setup spoofing typed_jids crash_safety archive hygiene)
on_cluster --workspace "${suites[@]/#/--test=}" -- "${prosody_only[@]}" "${no_server[@]}"

#!/usr/bin/env bash
# The main job: two new accounts on a private local Prosody negotiate an ESession, agree on
# the SAS, exchange encrypted messages and terminate; the server's own log is then searched
# to show it saw only ciphertext. Installs Prosody (Debian package) if it is missing.
# Usage: scripts/demo.sh [esession options]   (e.g. --json)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prosody.sh install >/dev/null
exec cargo run -q -p esession-cli -- demo "$@"

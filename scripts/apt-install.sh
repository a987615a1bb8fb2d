#!/usr/bin/env bash
# Installs Debian packages for the test servers without starting their system services.
#
# Usage: scripts/apt-install.sh PACKAGE...
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
policy=/usr/sbin/policy-rc.d
created=0
# Keep Debian's post-install from starting the system service.
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created=1
fi
rc=0
{
    apt-get update &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
} || rc=$?
if [[ $created == 1 ]]; then
    rm -f "$policy"
fi
[[ $rc == 0 ]] || { echo "apt-install.sh: apt-get failed (exit $rc)" >&2; exit 1; }

#!/usr/bin/env bash
# Fetch Debian trixie's podman package (5.4) into a private apt state dir and
# extract the real quadlet generator. Never touches the host's dpkg database.
# Usage: scripts/fetch-quadlet.sh [CACHE_DIR]   (default: .cache/quadlet)
# Prints the path of the quadlet binary on stdout.
set -euo pipefail
cache=${1:-${ARCHY_QUADLET_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache/quadlet}}
bin="$cache/root/usr/libexec/podman/quadlet"
if [ -x "$bin" ] && "$bin" -version >/dev/null 2>&1; then echo "$bin"; exit 0; fi

# shellcheck source=private-apt.sh
. "$(dirname "$0")/private-apt.sh"
mkdir -p "$cache/root"
private_apt "$cache"
(cd "$apt_archives" && apt-get "${aptopts[@]}" -qq download podman >&2)
deb=$(ls "$apt_archives"/podman_*.deb | head -n1)
dpkg-deb -x "$deb" "$cache/root"
"$bin" -version >&2
echo "$bin"

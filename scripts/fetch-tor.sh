#!/usr/bin/env bash
# Fetch Debian trixie's tor package into a private apt state dir (as
# fetch-quadlet.sh does for podman) and extract the tor binary; the tests run
# `tor --verify-config` and `tor --hash-password` with it. Never touches the
# host's dpkg database. Prints the path of a wrapper running that tor on stdout.
# Usage: scripts/fetch-tor.sh [CACHE_DIR]   (default: .cache/tor)
set -euo pipefail
cache=${1:-${ARCHY_TOR_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache/tor}}
bin="$cache/root/usr/bin/tor"
wrapper="$cache/tor"
# The wrapper runs tor with trixie's own loader and libraries only, so it works on
# an older host (bookworm's glibc is older than the one tor is built against).
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then echo "$wrapper"; exit 0; fi

# shellcheck source=private-apt.sh
. "$(dirname "$0")/private-apt.sh"
mkdir -p "$cache/root"
private_apt "$cache"
# tor and every library it links (objdump -p: NEEDED), all from trixie.
(cd "$apt_archives" && apt-get "${aptopts[@]}" -qq download tor libc6 libevent-2.1-7t64 libssl3t64 zlib1g \
  libsystemd0 liblzma5 libzstd1 libseccomp2 libcap2 >&2) 2> >(grep -v 'unsandboxed' >&2)
for deb in "$apt_archives"/*.deb; do dpkg-deb -x "$deb" "$cache/root"; done
lib="$cache/root/usr/lib/x86_64-linux-gnu"
cat >"$wrapper" <<WRAP
#!/bin/sh
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$bin" "\$@"
WRAP
chmod +x "$wrapper"
"$wrapper" --version >&2
echo "$wrapper"

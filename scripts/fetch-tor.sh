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

mirror=$("$(dirname "$0")/debian-mirror.sh")
state="$cache/apt"
mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/etc/preferences.d" "$cache/root"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$state/etc/sources.list"
: >"$state/status"
aptopts=(-o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=$state/status"
  -o "Dir::Cache=$state" -o "Dir::Cache::archives=$state/archives"
  -o "Dir::Etc::SourceList=$state/etc/sources.list" -o "Dir::Etc::SourceParts=-"
  -o "Dir::Etc::PreferencesParts=$state/etc/preferences.d" -o "APT::Architecture=amd64"
  -o "Debug::NoLocking=1" -o "Acquire::Languages=none")
apt-get "${aptopts[@]}" -qq update >&2
# tor and every library it links (objdump -p: NEEDED), all from trixie.
(cd "$state/archives" && apt-get "${aptopts[@]}" -qq download tor libc6 libevent-2.1-7t64 libssl3t64 zlib1g \
  libsystemd0 liblzma5 libzstd1 libseccomp2 libcap2 >&2) 2> >(grep -v 'unsandboxed' >&2)
for deb in "$state"/archives/*.deb; do dpkg-deb -x "$deb" "$cache/root"; done
lib="$cache/root/usr/lib/x86_64-linux-gnu"
cat >"$wrapper" <<WRAP
#!/bin/sh
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$bin" "\$@"
WRAP
chmod +x "$wrapper"
"$wrapper" --version >&2
echo "$wrapper"

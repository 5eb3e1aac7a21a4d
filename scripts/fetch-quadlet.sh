#!/usr/bin/env bash
# Fetch Debian trixie's podman package (5.4) into a private apt state dir and
# extract the real quadlet generator. Never touches the host's dpkg database.
# Usage: scripts/fetch-quadlet.sh [CACHE_DIR]   (default: .cache/quadlet)
# Prints the path of the quadlet binary on stdout.
set -euo pipefail
cache=${1:-${ARCHY_QUADLET_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache/quadlet}}
bin="$cache/root/usr/libexec/podman/quadlet"
if [ -x "$bin" ] && "$bin" -version >/dev/null 2>&1; then echo "$bin"; exit 0; fi

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
(cd "$state/archives" && apt-get "${aptopts[@]}" -qq download podman >&2)
deb=$(ls "$state"/archives/podman_*.deb | head -n1)
dpkg-deb -x "$deb" "$cache/root"
"$bin" -version >&2
echo "$bin"

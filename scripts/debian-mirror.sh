#!/usr/bin/env bash
# Print the Debian mirror URI this machine's apt is configured with (deb822 or
# one-line format), so no host name is ever written into the project.
set -euo pipefail
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  uri=$(awk '/^URIs:/{print $2; exit}' "$f")
  case "$uri" in */debian|*/debian/) echo "${uri%/}"; exit 0;; esac
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -e "$f" ] || continue
  uri=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' "$f")
  [ -n "$uri" ] && { echo "${uri%/}"; exit 0; }
done
echo "debian-mirror: no Debian mirror found in /etc/apt/sources.list(.d)" >&2
exit 1

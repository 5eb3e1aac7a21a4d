#!/usr/bin/env bash
# Build (or reuse) the cached Debian trixie rootfs the e2e harness boots with
# systemd-nspawn: systemd 257 + podman 5.4 + a static busybox, node and nginx
# from which the stand-in test images are made (test/e2e/standins).
#
# It also carries Debian's docker-registry (disabled; test/e2e/registry.e2e.ts
# starts it on 127.0.0.1:5000 inside the guest's own network namespace).
#
# Usage: test/e2e/harness/rootfs.sh [DIR]     (default: .cache/e2e/rootfs)
# Prints DIR on stdout; progress goes to stderr.
#
# The rootfs is complete iff DIR/.archy-e2e-stamp holds this script's hash:
# it is built in a temp dir next to DIR and renamed into place only once done,
# so an interrupted build never leaves a half rootfs that looks complete, and
# editing this script invalidates the cache.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
dir=${1:-$repo/.cache/e2e/rootfs}
case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac
parent=$(dirname "$dir")
stamp_name=.archy-e2e-stamp
recipe=$(sha256sum "$0" | cut -d' ' -f1)

log() { echo "rootfs.sh: $*" >&2; }

is_complete() { [ -f "$1/$stamp_name" ] && [ "$(cat "$1/$stamp_name")" = "$recipe" ]; }

if is_complete "$dir"; then echo "$dir"; exit 0; fi

[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap)"; exit 1; }

# Host tools come from the host's own (bookworm) apt config; never trixie.
if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
  log "installing debootstrap + systemd-container on the host"
  DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap systemd-container >&2 ||
    { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap systemd-container >&2; }
fi

mkdir -p "$parent"
# Serialize concurrent builders; the loser reuses the winner's result.
exec 9>"$dir.lock"
flock 9
if is_complete "$dir"; then echo "$dir"; exit 0; fi

# A machine booted with overlayfs has the rootfs as its lowerdir: a replaced
# rootfs is deleted only once no mount uses it any more (a later build sweeps it).
lower_in_use() { grep -qF "lowerdir=$dir," /proc/self/mountinfo; }
# Undo anything debootstrap left mounted (proc, sys) before deleting, and never
# cross into another file system while deleting.
remove_tree() {
  findmnt -rn -o TARGET | { grep -F "$1/" || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$1"
}
base=$(basename "$dir")
# Leftovers of an earlier build of this DIR that was killed (we hold the lock).
for stale in "$parent/.$base.tmp."* "$parent/.$base.old."*; do
  [ -e "$stale" ] || continue
  case "$stale" in *.old.*) if lower_in_use; then log "keeping $stale: a running machine may still use it"; continue; fi ;; esac
  log "removing stale $stale"; remove_tree "$stale"
done

tmp=$(mktemp -d -p "$parent" ".$base.tmp.XXXXXX")
chmod 0755 "$tmp" # mktemp makes it 0700; it becomes the guest's /
trap '[ -d "$tmp" ] && remove_tree "$tmp"' EXIT
trap 'exit 130' INT TERM HUP # make sure the EXIT trap runs on signals too

# The mirror is read from the host's apt config at run time: no host name is
# ever written into the project.
mirror=$("$repo/scripts/debian-mirror.sh")
debs=$parent/debs # keep downloaded .debs so rebuilds skip the network
mkdir -p "$debs"

log "debootstrap trixie into $tmp (~45 s cold here)"
t0=$(date +%s)
debootstrap --variant=minbase --cache-dir="$debs" \
  --include=systemd,systemd-sysv,dbus,podman,busybox-static,iproute2,netavark,aardvark-dns,crun,conmon,nftables,iptables,nodejs,nginx,curl,jq,tor,docker-registry \
  trixie "$tmp" "$mirror" >&2
log "debootstrap done in $(($(date +%s) - t0)) s"

# --- configuration of the guest ---------------------------------------------

# No getty: the console is read-only and the tests enter with nsenter.
ln -sf /dev/null "$tmp/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$tmp/etc/systemd/system/getty@.service"
# Debian's nginx is here only as the binary the UI stand-in base image is made of.
ln -sf /dev/null "$tmp/etc/systemd/system/nginx.service"
# Debian's tor is here only as the binary the tor stand-in runs: its units go, so the
# node has no tor.service of its own (apply refuses to shadow a unit the system ships).
rm -f "$tmp"/usr/lib/systemd/system/tor.service "$tmp"/usr/lib/systemd/system/tor@*.service \
  "$tmp"/etc/systemd/system/multi-user.target.wants/tor.service
rm -rf "$tmp"/etc/systemd/system/tor.service.wants "$tmp"/usr/lib/systemd/system/tor.service.d
# and its SysV script, which systemd-sysv-generator would turn into a tor.service
rm -f "$tmp"/etc/init.d/tor "$tmp"/etc/rc?.d/[SK]??tor
# The e2e's image registry (Debian's docker-registry, the distribution registry
# 2.x): off by default, so the other suites' guests do not run it; registry.e2e.ts
# starts it. It listens on the guest's own loopback only, and podman may use it
# over plain HTTP.
rm -f "$tmp/etc/systemd/system/multi-user.target.wants/docker-registry.service"
[ -x "$tmp/usr/bin/docker-registry" ] || { log "docker-registry did not provide /usr/bin/docker-registry"; exit 1; }
install -d "$tmp/etc/docker/registry"
cat >"$tmp/etc/docker/registry/config.yml" <<'EOF'
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
  headers:
    X-Content-Type-Options: [nosniff]
EOF
install -d "$tmp/etc/containers/registries.conf.d"
cat >"$tmp/etc/containers/registries.conf.d/50-archy-e2e-registry.conf" <<'EOF'
[[registry]]
location = "127.0.0.1:5000"
insecure = true
EOF
# debootstrap copied the host's hostname; boot() sets the machine name.
echo archy-e2e >"$tmp/etc/hostname"
# Empty machine-id: systemd generates a transient one per boot.
: >"$tmp/etc/machine-id"
# The guest has no network and no apt use: drop package caches (faster copies).
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*_Packages

# Helper that creates the local test image inside the booted machine. No
# registry is reachable, so the image is the static busybox on a scratch root,
# imported with `podman import`. Its default command handles SIGTERM so that
# `podman stop`/`systemctl stop` don't wait for the kill timeout.
install -d "$tmp/usr/local/bin"
cat >"$tmp/usr/local/bin/archy-e2e-image" <<'EOF'
#!/bin/sh
# Usage: archy-e2e-image [REF]   (default localhost/archy-e2e-busybox:latest)
set -eu
ref=${1:-localhost/archy-e2e-busybox:latest}
podman image exists "$ref" && { echo "$ref"; exit 0; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root"
chmod 1777 "$d/tmp"
cp /usr/bin/busybox "$d/bin/busybox"
for a in $(/usr/bin/busybox --list); do
  [ "$a" = busybox ] || ln -s busybox "$d/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"
echo 'root:x:0:' >"$d/etc/group"
tar -C "$d" -cf - . | podman import -q \
  --change 'ENV PATH=/bin' \
  --change 'CMD ["/bin/sh", "-c", "trap \"exit 0\" TERM; while :; do sleep 1 & wait; done"]' \
  - "$ref" >/dev/null
echo "$ref"
EOF
chmod 0755 "$tmp/usr/local/bin/archy-e2e-image"

# Sanity: the versions the project targets.
ver() { chroot "$tmp" dpkg-query -W -f='${Version}' "$1"; }
log "systemd $(ver systemd), podman $(ver podman), busybox-static $(ver busybox-static)"
case "$(ver systemd)" in 257.*) ;; *) log "expected systemd 257"; exit 1 ;; esac
case "$(ver podman)" in 5.4.*) ;; *) log "expected podman 5.4"; exit 1 ;; esac
[ -x "$tmp/usr/bin/busybox" ] || { log "busybox-static did not provide /usr/bin/busybox"; exit 1; }

echo "$recipe" >"$tmp/$stamp_name"

# Swap into place: rename is atomic; an older/incomplete DIR is moved aside
# first and deleted afterwards.
if [ -e "$dir" ]; then
  old=$(mktemp -d -p "$parent" ".$base.old.XXXXXX")
  mv "$dir" "$old/"
  mv "$tmp" "$dir"
  if lower_in_use; then log "keeping the replaced rootfs in $old: a running machine uses it"; else remove_tree "$old"; fi
else
  mv "$tmp" "$dir"
fi
log "rootfs ready: $dir ($(du -sh "$dir" | cut -f1))"
echo "$dir"

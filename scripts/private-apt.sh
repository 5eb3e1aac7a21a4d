# Sourced by the fetch-*.sh scripts: a private apt state dir for Debian trixie
# under $1, so packages are downloaded without ever touching the host's dpkg
# database or apt config. The mirror is read from the host's apt sources at run
# time (debian-mirror.sh); no host name is written anywhere.
# After `private_apt DIR`: "${aptopts[@]}" holds the options, the index is fresh,
# and $apt_archives is where `apt-get download` should run.
private_apt() {
  local state="$1/apt"
  local mirror
  mirror=$("$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh")
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/etc/preferences.d"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$state/etc/sources.list"
  : >"$state/status"
  aptopts=(-o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=$state/status"
    -o "Dir::Cache=$state" -o "Dir::Cache::archives=$state/archives"
    -o "Dir::Etc::SourceList=$state/etc/sources.list" -o "Dir::Etc::SourceParts=-"
    -o "Dir::Etc::PreferencesParts=$state/etc/preferences.d" -o "APT::Architecture=amd64"
    -o "Debug::NoLocking=1" -o "Acquire::Languages=none")
  apt_archives="$state/archives"
  apt-get "${aptopts[@]}" -qq update >&2
}

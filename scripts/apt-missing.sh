# Sourced by scripts/setup.sh and scripts/install-peers.sh: apt_install_missing TAG PKG...
# installs the Debian packages among PKG that are not installed (with sudo when not root).
apt_install_missing() {
  local tag=$1 p missing=()
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "$tag: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

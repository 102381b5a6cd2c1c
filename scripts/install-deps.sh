#!/usr/bin/env bash
# Install the Debian packages framebroker needs, only those missing.
#   scripts/install-deps.sh            everything for build + tests
#   scripts/install-deps.sh PKG...     just these (make demo asks for ffmpeg)
# Needs root (or sudo) when something is missing; says so otherwise.
set -eu
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(ffmpeg libcmocka-dev python3 gcc clang make pkg-config procps valgrind spin libclang-rt-14-dev strace nodejs gnuplot-nox slurmctld slurmd slurm-client munge chromium python3-numpy python3-matplotlib python3-pil python3-pytest python3-setuptools python3-pip python3-wheel chromium-headless-shell)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
if ! command -v apt-get > /dev/null; then
	echo "install-deps: no apt-get here; please install: ${missing[*]}" >&2
	exit 1
fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"

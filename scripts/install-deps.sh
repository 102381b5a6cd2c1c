#!/usr/bin/env bash
# Install what framebroker needs, only what is missing (make deps).
#   scripts/install-deps.sh            everything for build + tests: the Debian
#                                      packages, then the Chrome worker's npm
#                                      packages (npm ci in html,
#                                      pinned by its lock file)
#   scripts/install-deps.sh PKG...     just these Debian packages (make demo
#                                      asks for ffmpeg)
# Needs root (or sudo) when a package is missing; says so otherwise.  The
# tests themselves install nothing: a test whose tools are missing skips,
# naming this script.
set -eu
cd "$(dirname "$0")/.."
all=
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	all=1
	pkgs=(ffmpeg libcmocka-dev python3 gcc clang make pkg-config procps valgrind spin libclang-rt-14-dev strace
		tmux nodejs gnuplot-nox slurmctld slurmd slurm-client munge chromium python3-numpy python3-matplotlib
		python3-pil python3-pytest python3-setuptools python3-pip python3-wheel chromium-headless-shell fonts-noto-color-emoji python3-yaml)
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	if ! command -v apt-get > /dev/null; then
		echo "install-deps: no apt-get here; please install: ${missing[*]}" >&2
		exit 1
	fi
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
[ -n "$all" ] || exit 0
# npm ci (offline when npm's cache has it) where the lock file is newer
# than the installed tree: html (the Chrome worker's puppeteer-core, and
# gsap and @fontsource fonts served to pages offline), tests/chrome/hf
# (test-only: hyperframes and its Node, the reference t_hyperframes.sh
# compares against).
for d in html tests/chrome/hf; do
	[ "$d/node_modules/.package-lock.json" -nt "$d/package-lock.json" ] && continue
	echo "install-deps: npm ci in $d"
	(cd "$d" && { npm ci --offline --no-audit --no-fund --loglevel=error 2> /dev/null ||
		npm ci --no-audit --no-fund --loglevel=error; })
done

#!/usr/bin/env bash
# Prints the path of a Chromium for the console's browser tests. When none
# is installed it installs Debian's chromium package (apt-get update first),
# as root or with password-less sudo. When it cannot, it prints nothing and
# says why on stderr: the browser tests then skip, naming the reason.
set -uo pipefail

find_chromium() {
	for c in chromium chromium-browser google-chrome; do
		if command -v "$c"; then return 0; fi
	done
	return 1
}

if find_chromium; then exit 0; fi
if [ "$(id -u)" = 0 ]; then
	as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	as_root=(sudo -n)
else
	echo "chromium.sh: Chromium is not installed and this user cannot install it (no root, no sudo)" >&2
	exit 0
fi
echo "chromium.sh: installing Debian's chromium package for the browser tests" >&2
if ! { "${as_root[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium; } >&2; then
	echo "chromium.sh: apt-get could not install chromium" >&2
fi
find_chromium || true

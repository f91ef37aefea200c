#!/usr/bin/env bash
# The Debian packages switchboard needs, installed only when some are missing:
#   deploy/packages.sh build   what building needs: libsqlite3-dev, libjansson-dev, pkg-config
#   deploy/packages.sh test    that, and what the tests use as peers and tools
# It names what it installs. As root it runs apt-get; otherwise sudo apt-get where sudo is
# there; otherwise it prints the apt-get line to run as root and exits 1. With everything
# there (dpkg says so) it does nothing.
set -euo pipefail

build=(
    libsqlite3-dev   # sqlite3.h and libsqlite3, which GRDB links (the design card's SQLite)
    libjansson-dev   # jansson.h and libjansson: the strict check of request bodies (CJansson)
    pkg-config       # how SwiftPM finds jansson's flags
)
test=(
    python3          # the seed's Python peers in the end-to-end tests, and the README's walkthrough
    curl             # the README's walkthrough, which a test runs as written
    e2fsprogs        # chattr, to make the history file read-only in a test (root ignores file modes)
    util-linux       # prlimit, to give a "full disk" room again in a test
    systemd          # systemd-analyze verify and security, run on deploy/ by a test
    iperf3           # bulk traffic through a forward listener in the end-to-end tests
    python3-venv     # an isolated venv for schemathesis, which fuzzes the API through its OpenAPI document
    iproute2         # `ip link set lo up` in the network namespace the fuzzed service runs in
    ncat             # a peer nobody here wrote, seeing a fault's reset in the end-to-end tests
    chromium         # headless, for WebViewTests: the web view (/ui) in a real browser, driven over its DevTools pipe
    fonts-dejavu-core  # a font for Chromium's screenshots of the page (it depends on none)
    postgresql       # the fleet history (--db postgres://): the tests start throwaway servers of their own (initdb, pg_ctl)
)

case "${1:-}" in
    build) wanted=("${build[@]}") ;;
    test) wanted=("${build[@]}" "${test[@]}") ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "usage: deploy/packages.sh build|test" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null; then
    echo "packages.sh: no dpkg here; install the equivalents of: ${wanted[*]}" >&2
    exit 1
fi
missing=()
for package in "${wanted[@]}"; do
    # "ii": wanted and installed; removed packages leave other states behind.
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null)" = "ii " ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "packages.sh: switchboard's $1 needs ${missing[*]}; as root, run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "packages.sh: installing ${missing[*]} (for the $1) with ${as_root[*]:+sudo }apt-get"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

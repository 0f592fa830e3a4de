#!/usr/bin/env bash
# Runs every pyros test on a fresh Debian machine: installs what the tests
# need (as root) or names the missing packages, then vets, runs the unit,
# integration and end-to-end tests with the race detector, and runs each
# benchmark once so they cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null 2>&1 || { echo "test.sh: Go 1.26 or newer is required (https://go.dev/dl)" >&2; exit 1; }

# Debian packages the tests use: python3-zmq is a real libzmq peer for the
# interoperability tests, with python3-six and python3-tblib for the pyzmp
# client and node the pyzmp bridge is tested against; iproute2 (ip netns, veth, bridges) builds the
# private networks that partition tests cut, which also needs root; the
# ROS 1 master, tools and message packages are the real ROS graph the
# gateway tests bridge; chromium is the headless browser the map of the
# mesh (ui/) is tested in, and fonts-dejavu-core the font of its screenshots.
packages=(python3 python3-zmq python3-six python3-tblib iproute2  # python3 used as /usr/bin/python3
	python3-rosmaster python3-rospy python3-rostopic python3-rosservice python3-rosparam
	python3-std-msgs python3-std-srvs python3-geometry-msgs
	chromium fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "test.sh: installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		echo "test.sh: missing Debian packages: ${missing[*]}" >&2
		echo "test.sh: install them with: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
fi

if [ "$(id -u)" != 0 ]; then
	echo "test.sh: warning: not root: the partition tests (network namespaces) will fail" >&2
fi

echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 15m ./...
echo "== benchmarks, once each"
bench_out=$(mktemp)
if ! go test -run '^$' -bench . -benchtime 1x -timeout 10m ./... >"$bench_out" 2>&1; then
	grep -v '^ok\|^?\|^goos\|^goarch\|^pkg\|^cpu\|^PASS' "$bench_out" | tail -200
	rm -f "$bench_out"
	echo "== a benchmark failed"
	exit 1
fi
rm -f "$bench_out"
echo "== all tests passed"

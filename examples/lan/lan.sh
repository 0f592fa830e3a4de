#!/usr/bin/env bash
# A LAN of three machines inside this one, to watch pyros peers find each
# other with no address given, under one mesh key. Each "machine" is a
# network namespace plugged into a virtual switch; nothing leaves the
# machine. Needs root and iproute2.
#
#   go build -o pyros-peer ./cmd/pyros-peer
#   sudo examples/lan/lan.sh ./pyros-peer
set -euo pipefail

peer=$(realpath "${1:-$(command -v pyros-peer)}")
tag="pl$$"
work=$(mktemp -d)
hosts=(0 1 2)

pids=()
cleanup() {
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
	wait 2>/dev/null || true
	for i in "${hosts[@]}"; do ip netns del "$tag-$i" 2>/dev/null || true; done
	ip netns del "$tag-sw" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# the switch: a bridge that floods multicast like a plain LAN switch
ip netns add "$tag-sw"
ip -n "$tag-sw" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
ip -n "$tag-sw" link set br0 up
for i in "${hosts[@]}"; do
	ip netns add "$tag-$i"
	ip -n "$tag-sw" link add "port$i" type veth peer name eth0 netns "$tag-$i"
	ip -n "$tag-sw" link set "port$i" master br0 up
	ip -n "$tag-$i" link set lo up
	ip -n "$tag-$i" addr add "10.77.0.$((10 + i))/24" dev eth0
	ip -n "$tag-$i" link set eth0 up
done

# on machine i: its own registry directory, as on a separate machine
on() {
	local i=$1
	shift
	ip netns exec "$tag-$i" env PYROS_REGISTRY="$work/registry-$i" PYROS_BIND= PYROS_LAN= PYROS_JOIN= "$@"
}

"$peer" keygen >"$work/mesh.key"
echo "== one key for the mesh: $work/mesh.key"
for i in "${hosts[@]}"; do
	extra=()
	[ "$i" = 0 ] && extra=(--demo)
	# not through on(): $! must be the peer's own pid (ip netns exec and env exec into it)
	ip netns exec "$tag-$i" env PYROS_REGISTRY="$work/registry-$i" PYROS_BIND= PYROS_LAN= PYROS_JOIN= \
		"$peer" run --name "machine$i" --key "$work/mesh.key" "${extra[@]}" >"$work/machine$i.log" 2>&1 &
	pids+=($!)
done
for i in "${hosts[@]}"; do
	until [ -s "$work/machine$i.log" ]; do sleep 0.1; done
	echo "machine$i: $(head -1 "$work/machine$i.log")"
done

echo "== the members, as machine2 sees them (no --join anywhere)"
for _ in $(seq 50); do
	out=$(on 2 "$peer" members --key "$work/mesh.key" 2>/dev/null || true)
	[ "$(grep -c '^machine' <<<"$out")" = 3 ] && break
	sleep 0.2
done
echo "$out"
echo "== machine2 calls demo/add, provided by machine0"
on 2 "$peer" call demo/add '{"a": 2, "b": 3}' --key "$work/mesh.key"
echo "== an outsider with another key on machine1 sees nobody"
"$peer" keygen >"$work/other.key"
on 1 "$peer" members --key "$work/other.key" --no-registry

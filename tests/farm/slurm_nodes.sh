# tests/farm/slurm_nodes.sh — a multi-node Slurm cluster on one machine, for
# tests (sourced after lib.sh: it uses wait_until).  Every node is apart as
# a real one is: slurmd in its own network namespace (a veth to a bridge,
# 10.213.0.1I), its own UTS namespace (hostname fbnodeI) and its own mount
# namespace with a private tmpfs /dev/shm and a private tmpfs /tmp (its
# spool and pid file live there), sharing only what a cluster shares: the
# cluster's directory DIR (slurm.conf, munge's socket, logs — /etc/slurm
# on NFS) and SHARED (the work directory's file system), plus the
# repository when it lives under /tmp (a read-only image's /usr).
# slurmctld runs in a hub network namespace of its own (the bridge,
# 10.213.0.1, hostname fbctl); clients reach it through `hub CMD...`.  The
# addresses and ports are the namespaces' own: nothing is visible from the
# machine's network, and tests running at once do not collide.
#
#   nodes_start DIR SHARED N   start munged, the hub and slurmctld, nodes
#                              1..N; 0 once all are idle
#   node_up I                  start node I (again: a rebooted machine)
#   node_kill I                SIGKILL every process in node I's network
#                              namespace (slurmd, its job steps, renders):
#                              a node dying with the power cut
#   node_pids I                those processes' pids
#   hub CMD...                 CMD in the hub's network (sbatch, scontrol)
#   nodes_stop                 every process of every namespace here, and
#                              munged: nothing of the cluster is left
# Processes are judged by their network namespace's identity
# (/proc/PID/ns/net), so only this cluster's are ever signalled.
# Needs root, unshare/nsenter (util-linux), ip (iproute2), Slurm, munge;
# sourced after slurm_cluster.sh (slurm_munged, slurm_conf_base).

NODES_NET=10.213.0

# ns_pids HOLDER: the pids in HOLDER's network namespace (HOLDER included).
ns_pids() {
	local want
	want=$(readlink "/proc/$1/ns/net" 2> /dev/null) || return 0
	# find reads every link itself: one process, not one per pid.  The
	# target, net:[INODE], has brackets: escaped, not a pattern.
	want=${want//[/\\[} want=${want//]/\\]}
	find /proc/[0-9]*/ns/net -maxdepth 0 -lname "$want" 2> /dev/null | cut -d/ -f3
	return 0
}

# ns_kill HOLDER: SIGKILL every process in HOLDER's network namespace, until
# none is left (a dying slurmstepd may still fork): 0, or 1 after 20 s.
ns_kill() {
	local pids
	[ -n "$1" ] && [ -e "/proc/$1" ] || return 0
	pids=$(ns_pids "$1")
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill -KILL $pids 2> /dev/null
	wait_until 20 "[ -z \"\$(pids=\$(ns_pids $1); [ -n \"\$pids\" ] && kill -KILL \$pids 2> /dev/null; echo \$pids)\" ]"
}

# holder FLAGS...: a process (sleep) in new namespaces; prints its pid once
# it is in them.
holder() {
	local pid self
	self=$(readlink /proc/self/ns/net)
	unshare "$@" sleep 1000000 < /dev/null > /dev/null 2>&1 &
	pid=$!
	wait_until 10 "[ \"\$(readlink /proc/$pid/ns/net 2> /dev/null)\" != '$self' ]" || return 1
	echo "$pid"
}

hub() { nsenter -t "$NODES_HUB" -n -- "$@"; }

nodes_conf() {
	local d=$1 n=$2 i mem
	mem=$(awk '/MemTotal/ { print int($2 / 1024 / 8) }' /proc/meminfo)
	slurm_conf_base "$d"
	# Ports of the namespaces' own; a dead node noticed in seconds, not
	# Slurm's default 5 minutes (docs/scale-out.md measures it).
	cat <<CONF
ClusterName=fbnodes
SlurmctldHost=fbctl($NODES_NET.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmdSpoolDir=/tmp/slurmd.spool
SlurmdPidFile=/tmp/slurmd.pid
SlurmdLogFile=$d/log/slurmd.%n.log
JobCompType=jobcomp/none
SlurmdTimeout=6
MessageTimeout=4
CONF
	# One CPU each: an array's tasks spread over the nodes.
	for i in $(seq 1 "$n"); do
		echo "NodeName=fbnode$i NodeHostname=fbnode$i NodeAddr=$NODES_NET.1$i CPUs=1 RealMemory=$mem State=UNKNOWN"
	done
	echo "PartitionName=fbnodes Nodes=fbnode[1-$n] Default=YES MaxTime=INFINITE State=UP"
}

# nodes_mounts BIND...: run inside a node's mount namespace (private
# propagation): a private /dev/shm and /tmp, each BIND (a directory under
# /tmp) bound back in place.
nodes_mounts() {
	local keep=/srv k=0 p
	mount -t tmpfs -o size=256m,mode=1777 fbshm /dev/shm || return 1
	mount -t tmpfs -o size=4k,mode=0700 fbkeep $keep || return 1
	for p in "$@"; do
		mkdir "$keep/$k" && mount --rbind "$p" "$keep/$k" || return 1
		k=$((k + 1))
	done
	mount -t tmpfs -o size=512m,mode=1777 fbtmp /tmp || return 1
	k=0
	for p in "$@"; do
		mkdir -p "$p" && mount --move "$keep/$k" "$p" || return 1
		k=$((k + 1))
	done
	umount $keep
}

# node_up I: node I's namespaces, its link to the bridge, its mounts, its
# slurmd (-N fbnodeI); 0 once slurmd runs.
node_up() {
	local i=$1 n
	n=$(holder --net --mount --uts --propagation private) || { echo "node $i: unshare failed"; return 1; }
	eval "NODE_$i=$n"
	hub ip link add "fbv$i" type veth peer name eth0 netns "$n" &&
		hub ip link set "fbv$i" master fbbr up &&
		nsenter -t "$n" -n -- sh -c "ip addr add $NODES_NET.1$i/24 dev eth0 && ip link set eth0 up && ip link set lo up" &&
		nsenter -t "$n" -u -- hostname "fbnode$i" ||
		{ echo "node $i: its network could not be made"; return 1; }
	nsenter -t "$n" -m -- bash -c "$(declare -f nodes_mounts); nodes_mounts \"\$@\"" nodes_mounts "${NODES_BINDS[@]}" ||
		{ echo "node $i: its mounts could not be made"; return 1; }
	nsenter -t "$n" -n -m -u -- slurmd -N "fbnode$i" -f "$NODES_DIR/slurm.conf" ||
		{ echo "node $i: slurmd failed: $(tail -2 "$NODES_DIR/log/slurmd.fbnode$i.log")"; return 1; }
}

node_pids() { local v="NODE_$1"; ns_pids "${!v}"; }

node_kill() { local v="NODE_$1"; ns_kill "${!v}"; }

# node_state I: Slurm's word for node I (idle, allocated, down*, ...).
node_state() { hub sinfo -h -n "fbnode$1" -N -o '%T' 2> /dev/null; }

nodes_start() {
	local d=$1 i p
	NODES_DIR=$d NODES_N=$3
	# What a node shares: the cluster's directory, the work directory's
	# file system, and the software: the repository and every directory
	# of PATH (the tests' shim) that live under /tmp.
	NODES_BINDS=("$d" "$2")
	case "$ROOT/" in /tmp/*) NODES_BINDS+=("$ROOT") ;; esac
	local -a path
	IFS=: read -ra path <<< "$PATH"
	for p in "${path[@]}"; do
		case "$p/" in "$ROOT"/*) ;; /tmp/*) [ -d "$p" ] && NODES_BINDS+=("$p") ;; esac
	done
	mkdir -p "$d/state"
	slurm_munged "$d" || return 1
	nodes_conf "$d" "$NODES_N" > "$d/slurm.conf"
	export SLURM_CONF=$d/slurm.conf
	NODES_HUB=$(holder --net --uts) || { echo "the hub's namespaces: unshare failed"; return 1; }
	hub sh -c "ip link add fbbr type bridge && ip addr add $NODES_NET.1/24 dev fbbr && ip link set fbbr up && ip link set lo up" &&
		nsenter -t "$NODES_HUB" -u -- hostname fbctl || { echo "the hub's bridge could not be made"; return 1; }
	nsenter -t "$NODES_HUB" -n -u -- slurmctld -i -f "$d/slurm.conf" ||
		{ echo "slurmctld failed: $(tail -3 "$d/log/slurmctld.log")"; return 1; }
	for i in $(seq 1 "$NODES_N"); do
		node_up "$i" || return 1
	done
	wait_until 60 "[ \"\$(hub sinfo -h -N -o '%T' 2> /dev/null | grep -cx idle)\" -eq $NODES_N ]" && return 0
	echo "the nodes never all became idle: $(hub sinfo -h -N -o '%N %T %E' 2>&1 | tr '\n' ';')"
	return 1
}

nodes_stop() {
	local i v
	for i in $(seq 1 "${NODES_N:-0}"); do
		v="NODE_$i"
		ns_kill "${!v}"
	done
	ns_kill "$NODES_HUB"
	[ -s "$NODES_DIR/munge/munged.pid" ] && kill -TERM "$(cat "$NODES_DIR/munge/munged.pid")" 2> /dev/null
	wait_until 5 "! [ -e /proc/\$(cat '$NODES_DIR/munge/munged.pid' 2> /dev/null || echo none) ]"
	return 0
}

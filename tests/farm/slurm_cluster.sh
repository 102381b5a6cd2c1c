# tests/farm/slurm_cluster.sh — a one-node Slurm cluster on loopback, for tests
# (sourced after lib.sh: it uses wait_until).  slurm_start DIR writes munge's key and a slurm.conf into DIR,
# starts munged, slurmctld and slurmd (as root, every file and socket in
# DIR, free ports) and waits until the node is idle; slurm_stop DIR stops
# them.  Exports SLURM_CONF so sbatch/scontrol/squeue talk to this cluster.
# Nothing outside DIR is touched, so a machine's own Slurm (if any) is not
# disturbed.  slurm_munged and slurm_conf_base serve slurm_nodes.sh too.

# a TCP port nobody listens on (not guaranteed to stay free, good enough)
slurm_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# slurm_munged DIR: munge's key, socket and daemon in DIR/munge (logs in
# DIR/log): 0, or 1 and a message.
slurm_munged() {
	local d=$1
	mkdir -p "$d/munge" "$d/log"
	chmod 700 "$d/munge"
	dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
	chmod 400 "$d/munge/munge.key"
	munged --force --socket="$d/munge/socket" --key-file="$d/munge/munge.key" \
		--pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
		--seed-file="$d/munge/seed" || { echo "munged failed: $(tail -2 "$d/log/munged.log")"; return 1; }
}

# slurm_conf_base DIR: the slurm.conf lines every test cluster shares (root
# daemons, munge in DIR, no accounting, requeue on, jobs kept 10 minutes so
# scontrol still shows them, a scheduling pass a second).
slurm_conf_base() {
	cat <<CONF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$1/munge/socket,cred_expire=5
CredType=cred/munge
StateSaveLocation=$1/state
SlurmctldPidFile=$1/slurmctld.pid
SlurmctldLogFile=$1/log/slurmctld.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=600
SchedulerParameters=sched_interval=1
JobRequeue=1
CONF
}

# slurm_start DIR CPUS: 0 when the node is up, 1 (and a message) if not.
slurm_start() {
	local d=$1 cpus=${2:-2} ctl_port node_port mem
	mkdir -p "$d/state" "$d/spool" "$d/log"
	slurm_munged "$d" || return 1
	ctl_port=$(slurm_free_port)
	node_port=$(slurm_free_port)
	mem=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)
	{
		slurm_conf_base "$d"
		cat <<CONF
ClusterName=fbtest
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$node_port
SlurmdSpoolDir=$d/spool
SlurmdPidFile=$d/slurmd.pid
SlurmdLogFile=$d/log/slurmd.log
JobCompType=jobcomp/none
NodeName=fbnode NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=fbtest Nodes=fbnode Default=YES MaxTime=INFINITE State=UP
CONF
	} > "$d/slurm.conf"
	export SLURM_CONF=$d/slurm.conf
	slurmctld -i -f "$d/slurm.conf" || { echo "slurmctld failed: $(tail -3 "$d/log/slurmctld.log")"; return 1; }
	slurmd -N fbnode -f "$d/slurm.conf" || { echo "slurmd failed: $(tail -3 "$d/log/slurmd.log")"; return 1; }
	wait_until 30 "sinfo -h -N -o '%T' 2> /dev/null | grep -qx idle" && return 0
	echo "the Slurm node never became idle: $(sinfo -h -N -o '%T %E' 2>&1 | head -1); slurmd log: $(tail -2 "$d/log/slurmd.log")"
	return 1
}

slurm_stop() {
	local d=$1 f jobs
	# Jobs first (a failed test may leave some running), while the daemons
	# that can cancel them are still up.
	jobs=$(SLURM_CONF=$d/slurm.conf squeue -h -o %i 2> /dev/null)
	if [ -n "$jobs" ]; then
		# shellcheck disable=SC2086
		SLURM_CONF=$d/slurm.conf scancel $jobs 2> /dev/null
		wait_until 10 "[ -z \"\$(SLURM_CONF=$d/slurm.conf squeue -h 2> /dev/null)\" ]"
	fi
	for f in slurmd slurmctld; do
		[ -s "$d/$f.pid" ] && kill -TERM "$(cat "$d/$f.pid")" 2> /dev/null
	done
	[ -s "$d/munge/munged.pid" ] && kill -TERM "$(cat "$d/munge/munged.pid")" 2> /dev/null
	wait_until 5 "! pgrep -f -- '$d/slurm.conf' > /dev/null"
	pkill -KILL -f -- "$d/slurm.conf" 2> /dev/null
	pkill -KILL -f -- "$d/munge/socket" 2> /dev/null
	return 0
}

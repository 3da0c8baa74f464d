#!/usr/bin/env bash
# Shared settings and helpers of the test-cluster scripts (hack/kube-up.sh,
# hack/kube-down.sh, hack/kube/*.sh). Sourced, never run. See
# docs/test-cluster.md.
# shellcheck disable=SC2034 # the variables are used by the sourcing scripts.

# Versions. Changing KUBE_VERSION needs hack/kube/build/update-gomod.sh.
KUBE_VERSION=v1.37.2
HELM_VERSION=v3.22.0

# Where the built binaries are cached, by version, outside the repository.
BIGBOX_CACHE=${BIGBOX_CACHE:-/var/cache/bigbox}
KUBE_BIN_DIR=${BIGBOX_CACHE}/kube-${KUBE_VERSION}
HELM_BIN_DIR=${BIGBOX_CACHE}/helm-${HELM_VERSION}
# Binaries in KUBE_BIN_DIR that make the cache complete.
KUBE_BINARIES=(etcd etcdctl kube-apiserver kube-scheduler kubelet)

# Everything a running cluster owns: PIDs, PKI, configs, data, logs.
BIGBOX_KUBE_RUN=${BIGBOX_KUBE_RUN:-/run/bigbox-kube}
RUN=${BIGBOX_KUBE_RUN}
PID_DIR=${RUN}/pids
LOG_DIR=${RUN}/logs
PKI_DIR=${RUN}/pki
KUBECONFIG_FILE=${RUN}/kubeconfig
CONTAINERD_DIR=${RUN}/containerd
CONTAINERD_SOCK=${CONTAINERD_DIR}/containerd.sock
# Logs of stopped clusters are copied here by kube-down.sh (last 10 kept).
BIGBOX_KUBE_KEEP=${BIGBOX_KUBE_KEEP:-/var/log/bigbox-kube}
# The kubelet's root dir: the default one, because the bigbox agent's device
# plugin registers at /var/lib/kubelet/device-plugins/kubelet.sock.
KUBELET_ROOT=${KUBELET_ROOT:-/var/lib/kubelet}
# Marks a kubelet root dir that kube-up.sh made (or adopted empty), so that
# kube-down.sh may delete it.
KUBELET_ROOT_MARK=${KUBELET_ROOT}/.bigbox-kube
CGROUP_ROOT=${CGROUP_ROOT:-/sys/fs/cgroup}

# Ports, all on 127.0.0.1; off the well-known ones, so that they do not clash
# with a real etcd, API server or kubelet the user may run.
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-12379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-12380}
APISERVER_PORT=${APISERVER_PORT:-16443}
SCHEDULER_PORT=${SCHEDULER_PORT:-10659}
KUBELET_PORT=${KUBELET_PORT:-10650}
KUBELET_HEALTHZ_PORT=${KUBELET_HEALTHZ_PORT:-10648}

# The locally built pause image (hack/kube/pause): sandbox image and the
# container image of test pods.
PAUSE_IMAGE=localhost/bigbox/pause:1.0
NODE_NAME=${NODE_NAME:-$(hostname | tr '[:upper:]' '[:lower:]')}

# Host sysctls the kubelet sets at start (setupKernelTunables, when
# protectKernelDefaults is false); kube-down.sh puts back the saved values.
KUBELET_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
	kernel/keys/root_maxkeys kernel/keys/root_maxbytes)

# Components in start order; kube-down.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver containerd kube-scheduler kubelet)

log() { printf '%s kube: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# running NAME: prints the PID recorded for NAME if that process is alive and
# still runs the binary that was recorded (a reused PID is not ours).
running() {
	local file=${PID_DIR}/$1.pid pid exe
	[[ -f "${file}" ]] || return 1
	read -r pid exe <"${file}" || return 1
	[[ -n "${pid}" && -n "${exe}" ]] || return 1
	[[ "$(readlink "/proc/${pid}/exe" 2>/dev/null)" == "${exe}" ]] || return 1
	echo "${pid}"
}

# other_kubelets: PIDs of live kubelet processes that are not the recorded
# one (zombies of ours waiting to be reaped do not count).
other_kubelets() {
	local ours pid state
	ours=$(running kubelet || true)
	for pid in $(pgrep -x kubelet || true); do
		[[ "${pid}" == "${ours}" ]] && continue
		state=$(awk '{ print $3 }' "/proc/${pid}/stat" 2>/dev/null || true)
		[[ -n "${state}" && "${state}" != Z ]] && echo "${pid}"
	done
	return 0
}

# stop NAME [TIMEOUT_S]: SIGTERM to the recorded process, SIGKILL after the
# timeout; removes the PID file. Does nothing when NAME is not running.
stop() {
	local name=$1 timeout=${2:-15} pid i
	if pid=$(running "${name}"); then
		log "stopping ${name} (pid ${pid})"
		kill -TERM "${pid}" 2>/dev/null || true
		for ((i = 0; i < timeout * 10; i++)); do
			[[ -d "/proc/${pid}" ]] || break
			# A zombie child of ours has no exe any more: it is gone.
			running "${name}" >/dev/null || break
			sleep 0.1
		done
		if running "${name}" >/dev/null; then
			log "${name} (pid ${pid}) did not stop in ${timeout} s, killing it"
			kill -KILL "${pid}" 2>/dev/null || true
		fi
	fi
	rm -f "${PID_DIR}/${name}.pid"
}

# mounts_under DIR: mount points strictly below DIR (and DIR itself), deepest first.
mounts_under() {
	local dir
	dir=$(realpath -m "$1")
	findmnt -rn -o TARGET | awk -v d="${dir}" '$0 == d || index($0, d "/") == 1' | sort -r
}

# unmount_under DIR: unmounts everything mounted at or below DIR.
unmount_under() {
	local m
	while read -r m; do
		[[ -n "${m}" ]] || continue
		# findmnt escapes blanks as \x20.
		m=$(printf '%b' "${m}")
		umount "${m}" 2>/dev/null || umount -l "${m}" || log "warning: cannot unmount ${m}"
	done < <(mounts_under "$1")
}

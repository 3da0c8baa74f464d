#!/usr/bin/env bash
# Stops the test cluster that hack/kube-up.sh started and removes what it
# left on the machine; keeps the logs (copied to ${BIGBOX_KUBE_KEEP}) and the
# binary cache. Only processes recorded in the run dir are stopped (and the
# containerd shims that serve its socket). Safe to run twice.
#
# Exits non-zero when something could not be cleaned up (listed in the log).
# See docs/test-cluster.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/kube/lib.sh
. "${here}/kube/lib.sh"

problems=()
problem() {
	log "warning: $*"
	problems+=("$*")
}

ctr_() { ctr --address "${CONTAINERD_SOCK}" -n k8s.io "$@"; }

# remove_containers: the kubelet leaves pod containers running and shims
# outlive containerd, so every task and container goes through ctr first.
remove_containers() {
	running containerd >/dev/null || return 0
	local id out i
	for id in $(ctr_ tasks ls -q 2>/dev/null); do
		ctr_ tasks kill --all -s SIGKILL "${id}" >/dev/null 2>&1 || true
	done
	# A killed task is deleted only once it has stopped.
	for ((i = 0; i < 100; i++)); do
		ctr_ tasks ls 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED" { found = 1 } END { exit !found }' || break
		sleep 0.1
	done
	for id in $(ctr_ tasks ls -q 2>/dev/null); do
		out=$(ctr_ tasks delete -f "${id}" 2>&1) || problem "cannot delete task ${id}: ${out}"
	done
	for id in $(ctr_ containers ls -q 2>/dev/null); do
		out=$(ctr_ containers delete "${id}" 2>&1) || problem "cannot delete container ${id}: ${out}"
	done
}

# kill_shims: shims of our containerd still alive (it died before the
# containers were removed), found by the socket they were started for.
kill_shims() {
	local pid
	for pid in $(pgrep -f -- "containerd-shim-runc-v2 .*-address ${CONTAINERD_SOCK}( |$)" || true); do
		log "killing leftover shim ${pid}"
		kill -KILL "${pid}" 2>/dev/null || true
	done
}

# remove_cgroups: the kubepods trees the kubelet made in every hierarchy,
# children first. rmdir refuses a cgroup that still has processes; those stay
# and are reported.
remove_cgroups() {
	local others
	others=$(other_kubelets)
	if [[ -n "${others}" ]]; then
		problem "another kubelet runs (pid ${others//$'\n'/ }); not touching its kubepods cgroups"
		return
	fi
	local top dir
	while read -r top; do
		while read -r dir; do
			rmdir "${dir}" 2>/dev/null || true
		done < <(find "${top}" -depth -type d)
		if [[ -d "${top}" ]]; then
			problem "cgroup ${top} not removed: processes still in $(find "${top}" -name cgroup.procs -size +0 -printf '%h ' 2>/dev/null)"
		fi
	done < <(find "${CGROUP_ROOT}" -mindepth 2 -maxdepth 2 -type d -name kubepods)
}

restore_sysctls() {
	[[ -f "${RUN}/sysctl.saved" ]] || return 0
	local k v
	while read -r k v; do
		[[ "$(cat "/proc/sys/${k}")" == "${v}" ]] && continue
		echo "${v}" >"/proc/sys/${k}" 2>/dev/null || problem "cannot restore /proc/sys/${k} to ${v}"
	done <"${RUN}/sysctl.saved"
}

keep_logs() {
	[[ -d "${LOG_DIR}" && -n "$(ls -A "${LOG_DIR}")" ]] || return 0
	local dest
	dest=${BIGBOX_KUBE_KEEP}/$(date +%Y%m%d-%H%M%S)
	mkdir -p "${dest}"
	cp -a "${LOG_DIR}/." "${dest}/"
	if [[ -d "${RUN}/pod-logs" ]]; then
		cp -a "${RUN}/pod-logs" "${dest}/pods"
	fi
	# The newest 10 clusters' logs stay.
	find "${BIGBOX_KUBE_KEEP}" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -r | tail -n +11 |
		while read -r old; do rm -rf "${BIGBOX_KUBE_KEEP:?}/${old}"; done
	log "logs kept in ${dest}"
}

main() {
	[[ "$(id -u)" == 0 ]] || die "must run as root"
	if [[ ! -d "${RUN}" ]]; then
		log "no test cluster at ${RUN}: nothing to stop"
	fi

	stop kubelet 30
	remove_containers
	stop kube-scheduler
	stop containerd
	kill_shims
	stop kube-apiserver
	stop etcd

	# Volumes the kubelet mounted, and the shm mounts of sandboxes that ctr
	# (not the CRI) deleted.
	if [[ -e "${KUBELET_ROOT_MARK}" ]]; then
		unmount_under "${KUBELET_ROOT}"
	fi
	unmount_under "${RUN}"
	if [[ -f "${RUN}/sysctl.saved" || -e "${KUBELET_ROOT_MARK}" ]]; then
		remove_cgroups
	fi
	restore_sysctls

	# Symlinks the kubelet made to our pod logs (its directory is fixed).
	if [[ -d /var/log/containers ]]; then
		find /var/log/containers -maxdepth 1 -type l -lname "${RUN}/*" -delete
		# Made by the kubelet; an empty one is nobody's.
		rmdir /var/log/containers 2>/dev/null || true
	fi
	keep_logs

	if [[ -e "${KUBELET_ROOT_MARK}" ]]; then
		if [[ -n "$(mounts_under "${KUBELET_ROOT}")" ]]; then
			problem "mounts left under ${KUBELET_ROOT}; not deleting it"
		else
			rm -rf --one-file-system "${KUBELET_ROOT}"
		fi
	fi
	if [[ -d "${RUN}" ]]; then
		if [[ -n "$(mounts_under "${RUN}")" ]]; then
			problem "mounts left under ${RUN}; not deleting it"
		else
			rm -rf --one-file-system "${RUN}"
		fi
	fi

	if ((${#problems[@]} > 0)); then
		log "stopped, but ${#problems[@]} thing(s) could not be cleaned up:"
		printf '  %s\n' "${problems[@]}" >&2
		exit 1
	fi
	log "test cluster stopped"
}

main "$@"

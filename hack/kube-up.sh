#!/usr/bin/env bash
# Starts a one-node Kubernetes test cluster on loopback, as root: etcd,
# kube-apiserver, containerd, kube-scheduler and kubelet v1.37.2, with a
# locally built pause image (nothing is pulled). The binaries are built from
# the Go module proxy once and cached (hack/kube/build.sh).
#
# Idempotent: components that already run (by their recorded PIDs) are kept,
# the others are started. On success it prints export lines for the shell:
#
#   eval "$(hack/kube-up.sh)"
#
# Settings (environment): BIGBOX_CACHE, BIGBOX_KUBE_RUN, KUBELET_ROOT,
# KUBE_UP_HELM=1 (also install helm), KUBE_UP_TIMEOUT (seconds per wait, 120).
# See docs/test-cluster.md. Stop it with hack/kube-down.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/kube/lib.sh
. "${here}/kube/lib.sh"

TIMEOUT=${KUBE_UP_TIMEOUT:-120}
APISERVER_URL=https://127.0.0.1:${APISERVER_PORT}

preflight() {
	[[ "$(id -u)" == 0 ]] || die "must run as root (it starts a kubelet and containerd)"
	[[ -d "${CGROUP_ROOT}" ]] || die "no cgroup file system at ${CGROUP_ROOT}"
	command -v go >/dev/null || die "go is not on PATH (needed to build the components)"
}

# install_packages: containerd, runc, the CNI plugins and the tools the
# scripts use, from Debian; nothing when all are there.
install_packages() {
	local -A need=(
		[/usr/bin/containerd]=containerd [/usr/bin/ctr]=containerd
		[/usr/sbin/runc]=runc [/usr/lib/cni/loopback]=containernetworking-plugins
		[/usr/bin/openssl]=openssl [/usr/bin/curl]=curl [/usr/bin/jq]=jq
		[/usr/bin/ss]=iproute2 [/usr/bin/findmnt]=util-linux [/usr/bin/pgrep]=procps
	)
	local -a missing=()
	local f
	for f in "${!need[@]}"; do
		[[ -x "${f}" ]] || missing+=("${need[${f}]}")
	done
	((${#missing[@]} > 0)) || return 0
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	log "installing ${missing[*]} from Debian"
	# On a machine with systemd, Debian's containerd package also starts the
	# system containerd (/run/containerd); ours runs beside it, untouched.
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# port_free PORT: nothing listens on the TCP port.
port_free() {
	[[ -z "$(ss -Hltn "sport = :$1")" ]]
}

# check_ports NAME PORT...: fails clearly when a port NAME needs is taken.
check_ports() {
	local name=$1 p
	shift
	for p in "$@"; do
		port_free "${p}" ||
			die "port ${p} (for ${name}) is taken: $(ss -Hltnp "sport = :${p}" | head -1); stop that or set the port variable (docs/test-cluster.md)"
	done
}

# start NAME BINARY ARGS...: starts BINARY in its own session, logging to
# logs/NAME.log, and records "PID BINARY" in pids/NAME.pid.
start() {
	local name=$1 bin=$2
	shift 2
	log "starting ${name}"
	echo "=== $(date -Is) kube-up.sh starts: ${bin} $*" >>"${LOG_DIR}/${name}.log"
	setsid "${bin}" "$@" </dev/null >>"${LOG_DIR}/${name}.log" 2>&1 &
	local pid=$! exe i
	exe=$(realpath "${bin}")
	echo "${pid} ${exe}" >"${PID_DIR}/${name}.pid"
	# Until setsid has exec'd the binary, running() would take it for gone.
	for ((i = 0; i < 50; i++)); do
		[[ "$(readlink "/proc/${pid}/exe" 2>/dev/null)" == "${exe}" ]] && return
		[[ -d "/proc/${pid}" ]] || return 0
		sleep 0.02
	done
}

# wait_for NAME WHAT CMD...: polls CMD until it succeeds; fails with the end
# of NAME's log when NAME exits or TIMEOUT passes.
wait_for() {
	local name=$1 what=$2 deadline=$((SECONDS + TIMEOUT))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ! running "${name}" >/dev/null; then
			tail -n 30 "${LOG_DIR}/${name}.log" >&2 || true
			die "${name} exited while waiting for ${what}; log: ${LOG_DIR}/${name}.log"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "${LOG_DIR}/${name}.log" >&2 || true
			die "timed out after ${TIMEOUT} s waiting for ${what}; log: ${LOG_DIR}/${name}.log"
		fi
		sleep 0.25
	done
}

# api METHOD PATH [CURL ARGS...]: a request to the API server as the admin.
api() {
	local method=$1 path=$2
	shift 2
	curl -sS --fail-with-body --max-time 10 --cacert "${PKI_DIR}/ca.crt" \
		-H "@${PKI_DIR}/admin.header" -X "${method}" "$@" "${APISERVER_URL}${path}"
}

make_pki() {
	mkdir -p "${PKI_DIR}"
	chmod 700 "${PKI_DIR}"
	local d=${PKI_DIR}
	if [[ ! -f "${d}/ca.crt" ]]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=bigbox-test-ca" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-keyout "${d}/ca.key" -out "${d}/ca.crt" 2>/dev/null
	fi
	if [[ ! -f "${d}/apiserver.crt" ]]; then
		openssl req -new -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
			-keyout "${d}/apiserver.key" -out "${d}/apiserver.csr" 2>/dev/null
		# 10.96.0.1 is the first address of --service-cluster-ip-range: the
		# "kubernetes" Service's ClusterIP, which the API server requires in its certificate.
		printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1" \
			"keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"${d}/apiserver.ext"
		openssl x509 -req -in "${d}/apiserver.csr" -CA "${d}/ca.crt" -CAkey "${d}/ca.key" \
			-set_serial "0x$(openssl rand -hex 16)" -days 3650 -extfile "${d}/apiserver.ext" \
			-out "${d}/apiserver.crt" 2>/dev/null
	fi
	if [[ ! -f "${d}/sa.key" ]]; then
		openssl genrsa -out "${d}/sa.key" 2048 2>/dev/null
		openssl rsa -in "${d}/sa.key" -pubout -out "${d}/sa.pub" 2>/dev/null
	fi
	if [[ ! -f "${d}/admin.token" ]]; then
		openssl rand -hex 32 >"${d}/admin.token"
		# token,user,uid,"groups"
		echo "$(cat "${d}/admin.token"),bigbox-admin,bigbox-admin,\"system:masters\"" >"${d}/tokens.csv"
	fi
	# For curl -H @file: the token stays out of the process list.
	echo "Authorization: Bearer $(cat "${d}/admin.token")" >"${d}/admin.header"
	chmod 600 "${d}"/*.key "${d}/admin.token" "${d}/admin.header" "${d}/tokens.csv"

	# One admin kubeconfig for the tests, the kubelet and the scheduler.
	local tmp=${KUBECONFIG_FILE}.tmp
	cat >"${tmp}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: bigbox-test
  cluster:
    server: ${APISERVER_URL}
    certificate-authority-data: $(base64 -w0 "${d}/ca.crt")
users:
- name: bigbox-admin
  user:
    token: $(cat "${d}/admin.token")
contexts:
- name: bigbox-test
  context:
    cluster: bigbox-test
    user: bigbox-admin
current-context: bigbox-test
EOF
	chmod 600 "${tmp}"
	mv "${tmp}" "${KUBECONFIG_FILE}"
}

# check_free: before anything starts, the ports and the kubelet root of the
# components that do not run yet must be free.
check_free() {
	running etcd >/dev/null || check_ports etcd "${ETCD_CLIENT_PORT}" "${ETCD_PEER_PORT}"
	running kube-apiserver >/dev/null || check_ports kube-apiserver "${APISERVER_PORT}"
	running kube-scheduler >/dev/null || check_ports kube-scheduler "${SCHEDULER_PORT}"
	if ! running kubelet >/dev/null; then
		check_ports kubelet "${KUBELET_PORT}" "${KUBELET_HEALTHZ_PORT}"
		prepare_kubelet_root
	fi
}

start_etcd() {
	running etcd >/dev/null && return
	local client=http://127.0.0.1:${ETCD_CLIENT_PORT} peer=http://127.0.0.1:${ETCD_PEER_PORT}
	# --unsafe-no-fsync: a throw-away test store, and the disk is shared.
	start etcd "${KUBE_BIN_DIR}/etcd" --name=bigbox --data-dir="${RUN}/etcd" \
		--listen-client-urls="${client}" --advertise-client-urls="${client}" \
		--listen-peer-urls="${peer}" --initial-advertise-peer-urls="${peer}" \
		--initial-cluster="bigbox=${peer}" --unsafe-no-fsync
}

start_apiserver() {
	running kube-apiserver >/dev/null && return
	local d=${PKI_DIR}
	start kube-apiserver "${KUBE_BIN_DIR}/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:${ETCD_CLIENT_PORT}" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="${APISERVER_PORT}" \
		--tls-cert-file="${d}/apiserver.crt" --tls-private-key-file="${d}/apiserver.key" \
		--client-ca-file="${d}/ca.crt" --token-auth-file="${d}/tokens.csv" \
		--service-account-issuer=https://kubernetes.default.svc \
		--service-account-key-file="${d}/sa.pub" --service-account-signing-key-file="${d}/sa.key" \
		--service-cluster-ip-range=10.96.0.0/24 --authorization-mode=RBAC \
		--endpoint-reconciler-type=none --enable-priority-and-fairness=false
}

start_containerd() {
	running containerd >/dev/null && return
	local d=${CONTAINERD_DIR}
	mkdir -p "${d}" "${RUN}/cni/net.d"
	# The node turns Ready only with a CNI config; pods use the host network,
	# so loopback is all they get.
	cat >"${RUN}/cni/net.d/10-bigbox-loopback.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "bigbox-loopback", "plugins": [{"type": "loopback"}]}
EOF
	# Its own root, state, socket and runc root under the run dir, so that a
	# containerd of the user (/etc/containerd, /run/containerd) is untouched.
	# Settings not named here keep containerd's defaults.
	cat >"${d}/config.toml" <<EOF
version = 2
root = "${d}/root"
state = "${d}/state"

[grpc]
  address = "${CONTAINERD_SOCK}"

[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${d}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # root here lacks CAP_SYS_RESOURCE: without this runc cannot lower
  # oom_score_adj and every sandbox fails ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${RUN}/cni/net.d"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${d}/runc"
EOF
	start containerd /usr/bin/containerd --config "${d}/config.toml"
}

import_pause() {
	local tar
	tar=$("${here}/kube/pause-image.sh" "${RUN}/pause" "${PAUSE_IMAGE}")
	ctr --address "${CONTAINERD_SOCK}" -n k8s.io images import --all-platforms "${tar}" >/dev/null
	ctr --address "${CONTAINERD_SOCK}" -n k8s.io images ls -q | grep -qxF "${PAUSE_IMAGE}" ||
		die "pause image ${PAUSE_IMAGE} not in containerd after import"
}

start_scheduler() {
	running kube-scheduler >/dev/null && return
	start kube-scheduler "${KUBE_BIN_DIR}/kube-scheduler" --kubeconfig="${KUBECONFIG_FILE}" \
		--authentication-kubeconfig="${KUBECONFIG_FILE}" --authorization-kubeconfig="${KUBECONFIG_FILE}" \
		--bind-address=127.0.0.1 --secure-port="${SCHEDULER_PORT}" --leader-elect=false
}

# prepare_kubelet_root: the kubelet root must be ours: made here, or empty.
prepare_kubelet_root() {
	local others
	others=$(other_kubelets)
	[[ -z "${others}" ]] || die "another kubelet runs on this machine (pid ${others//$'\n'/ }); stop it first"
	if [[ -d "${KUBELET_ROOT}" && ! -e "${KUBELET_ROOT_MARK}" ]]; then
		[[ -z "$(ls -A "${KUBELET_ROOT}")" ]] ||
			die "${KUBELET_ROOT} exists and was not made by kube-up.sh; move it away or set KUBELET_ROOT"
	fi
	mkdir -p "${KUBELET_ROOT}"
	touch "${KUBELET_ROOT_MARK}"
}

start_kubelet() {
	running kubelet >/dev/null && return
	# The kubelet overwrites these host sysctls; kube-down.sh puts them back.
	if [[ ! -f "${RUN}/sysctl.saved" ]]; then
		local k
		for k in "${KUBELET_SYSCTLS[@]}"; do
			if [[ -r "/proc/sys/${k}" ]]; then
				echo "${k} $(cat "/proc/sys/${k}")"
			fi
		done >"${RUN}/sysctl.saved"
	fi
	mkdir -p "${RUN}/kubelet" "${RUN}/pod-logs"
	cat >"${RUN}/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: ${KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${KUBELET_HEALTHZ_PORT}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
cgroupDriver: cgroupfs
cgroupsPerQOS: true
enforceNodeAllocatable: []
failSwapOn: false
# cgroup v1 is deprecated; without this the kubelet refuses to start on it.
failCgroupV1: false
nodeStatusUpdateFrequency: 2s
podLogsDir: ${RUN}/pod-logs
# A shared developer disk is often fuller than the defaults allow.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
  imagefs.inodesFree: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
	start kubelet "${KUBE_BIN_DIR}/kubelet" --config="${RUN}/kubelet/config.yaml" \
		--kubeconfig="${KUBECONFIG_FILE}" --root-dir="${KUBELET_ROOT}" --hostname-override="${NODE_NAME}"
}

node_ready() {
	[[ "$(api GET "/api/v1/nodes/${NODE_NAME}" |
		jq -r '.status.conditions[]? | select(.type == "Ready") | .status')" == True ]]
}

# untaint_node: the API server taints new nodes not-ready (TaintNodesByCondition);
# the node lifecycle controller that would lift it does not run here.
untaint_node() {
	local taints
	taints=$(api GET "/api/v1/nodes/${NODE_NAME}" |
		jq -c '[.spec.taints[]? | select(.key != "node.kubernetes.io/not-ready")]')
	api PATCH "/api/v1/nodes/${NODE_NAME}" -H 'Content-Type: application/merge-patch+json' \
		-d "{\"spec\": {\"taints\": ${taints}}}" >/dev/null
}

# ensure_default_sa: no controller-manager runs, so nobody else makes it and
# the ServiceAccount admission plugin rejects pods without it.
ensure_default_sa() {
	local code
	code=$(curl -sS -o "${RUN}/default-sa.json" -w '%{http_code}' --max-time 10 --cacert "${PKI_DIR}/ca.crt" \
		-H "@${PKI_DIR}/admin.header" -H 'Content-Type: application/json' \
		-d '{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}' \
		"${APISERVER_URL}/api/v1/namespaces/default/serviceaccounts")
	# 201 Created, or 409 AlreadyExists on a second run.
	[[ "${code}" == 201 || "${code}" == 409 ]] ||
		die "create ServiceAccount default/default: HTTP ${code}: $(cat "${RUN}/default-sa.json")"
}

main() {
	local start_s=${SECONDS}
	preflight
	"${here}/kube/build.sh"
	install_packages
	mkdir -p "${PID_DIR}" "${LOG_DIR}"

	check_free
	make_pki
	start_etcd
	wait_for etcd "etcd health" curl -sf --max-time 2 "http://127.0.0.1:${ETCD_CLIENT_PORT}/health"
	start_apiserver
	wait_for kube-apiserver "API server /readyz" api GET /readyz
	start_containerd
	wait_for containerd "containerd" ctr --address "${CONTAINERD_SOCK}" version
	import_pause
	start_scheduler
	start_kubelet
	ensure_default_sa
	wait_for kubelet "node ${NODE_NAME} Ready" node_ready
	untaint_node
	wait_for kube-scheduler "kube-scheduler /healthz" curl -skf --max-time 2 "https://127.0.0.1:${SCHEDULER_PORT}/healthz"
	log "cluster up in $((SECONDS - start_s)) s: node ${NODE_NAME} Ready; logs in ${LOG_DIR}"

	echo "export KUBECONFIG=${KUBECONFIG_FILE}"
	echo "export BIGBOX_KUBE_RUN=${RUN}"
	echo "export BIGBOX_KUBE_NODE=${NODE_NAME}"
	echo "export BIGBOX_KUBE_PAUSE_IMAGE=${PAUSE_IMAGE}"
	echo "export BIGBOX_KUBE_BIN=${KUBE_BIN_DIR}"
	if [[ "${KUBE_UP_HELM:-0}" == 1 ]]; then
		echo "export BIGBOX_HELM=${HELM_BIN_DIR}/helm"
	fi
}

main "$@"

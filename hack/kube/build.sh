#!/usr/bin/env bash
# Builds etcd, etcdctl, kube-apiserver, kube-scheduler and kubelet from the Go
# module proxy into ${BIGBOX_CACHE}/kube-<version>/, unless all are there
# already. With KUBE_UP_HELM=1 also installs helm into
# ${BIGBOX_CACHE}/helm-<version>/. See docs/test-cluster.md.
#
# A cold build takes about 13 minutes and 2.5 GB of memory on 2 CPUs; it runs
# under `nice -n 19` so that it does not starve other work on the machine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/kube/lib.sh
. "${here}/lib.sh"

kube_cached() {
	local b
	for b in "${KUBE_BINARIES[@]}"; do
		[[ -x "${KUBE_BIN_DIR}/${b}" ]] || return 1
	done
}

build_kube() {
	if kube_cached; then
		log "kubernetes ${KUBE_VERSION} binaries cached in ${KUBE_BIN_DIR}"
		return
	fi
	local minor=${KUBE_VERSION#v1.}
	minor=${minor%%.*}
	local v=k8s.io/component-base/version
	# Without these, version.Get() reports v0.0.0 and kubectl cannot parse
	# the server version.
	local ldflags="-s -w -X ${v}.gitVersion=${KUBE_VERSION} -X ${v}.gitMajor=1"
	ldflags+=" -X ${v}.gitMinor=${minor} -X ${v}.gitTreeState=clean"

	local out
	out=$(mktemp -d "${BIGBOX_CACHE}/.build-kube.XXXXXX")
	# shellcheck disable=SC2064 # expand now: out is local.
	trap "rm -rf '${out}'" EXIT
	log "building kubernetes ${KUBE_VERSION} into ${KUBE_BIN_DIR} (cold: ~13 min, ~2.5 GB RSS)"
	local start=${SECONDS}
	(
		cd "${here}/build"
		nice -n 19 go build -mod=readonly -trimpath -ldflags "${ldflags}" -o "${out}/" \
			go.etcd.io/etcd/server/v3 \
			go.etcd.io/etcd/etcdctl/v3 \
			k8s.io/kubernetes/cmd/kube-apiserver \
			k8s.io/kubernetes/cmd/kube-scheduler \
			k8s.io/kubernetes/cmd/kubelet
	)
	# go names the binary of go.etcd.io/etcd/server/v3 "server".
	mv "${out}/server" "${out}/etcd"
	mkdir -p "${KUBE_BIN_DIR}"
	local b
	for b in "${KUBE_BINARIES[@]}"; do
		mv -f "${out}/${b}" "${KUBE_BIN_DIR}/${b}"
	done
	rm -rf "${out}"
	trap - EXIT
	log "built kubernetes ${KUBE_VERSION} in $((SECONDS - start)) s"
}

build_helm() {
	if [[ -x "${HELM_BIN_DIR}/helm" ]]; then
		log "helm ${HELM_VERSION} cached in ${HELM_BIN_DIR}"
		return
	fi
	log "installing helm ${HELM_VERSION} into ${HELM_BIN_DIR} (cold: ~2.5 min)"
	# The ldflags of helm's own Makefile: without them `helm version` says
	# v3.22 and `helm template`/`helm lint` assume Kubernetes 1.20. The
	# Kubernetes version is that of the k8s.io/client-go helm is built with.
	local dir client minor
	dir=$(cd / && go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	client=$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "${dir}/go.mod")
	[[ "${client}" =~ ^v0\.([0-9]+)\. ]] || die "no k8s.io/client-go v0.x in ${dir}/go.mod"
	minor=${BASH_REMATCH[1]}
	local h=helm.sh/helm/v3
	local ldflags="-s -w -X ${h}/internal/version.version=${HELM_VERSION} -X ${h}/internal/version.gitTreeState=clean"
	ldflags+=" -X ${h}/pkg/lint/rules.k8sVersionMajor=1 -X ${h}/pkg/lint/rules.k8sVersionMinor=${minor}"
	ldflags+=" -X ${h}/pkg/chartutil.k8sVersionMajor=1 -X ${h}/pkg/chartutil.k8sVersionMinor=${minor}"
	mkdir -p "${HELM_BIN_DIR}"
	# Outside the bigbox module, so that its go.mod is neither read nor changed.
	(cd / && GOBIN="${HELM_BIN_DIR}" nice -n 19 go install -trimpath -ldflags "${ldflags}" \
		"${h}/cmd/helm@${HELM_VERSION}")
}

main() {
	mkdir -p "${BIGBOX_CACHE}"
	# One build of each at a time: a second kube-up waits for the first one's
	# build, then finds the binaries.
	exec 8>"${KUBE_BIN_DIR}.lock"
	flock 8
	build_kube
	exec 8>&-
	if [[ "${KUBE_UP_HELM:-0}" == 1 ]]; then
		exec 9>"${HELM_BIN_DIR}.lock"
		flock 9
		build_helm
		exec 9>&-
	fi
}

main "$@"

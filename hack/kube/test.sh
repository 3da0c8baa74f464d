#!/usr/bin/env bash
# Runs the integration tests against a fresh test cluster: hack/kube-up.sh,
# `go test -tags integration ./test/integration/... ./test/chart/...`, and hack/kube-down.sh
# always (also on failure or Ctrl-C). Exits with the tests' status, or with
# kube-down's when the tests passed but the cleanup did not.
#
# Usage: hack/kube/test.sh [go test flags...]   (`make test-integration`)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "${here}/../.." && pwd)
# shellcheck source=hack/kube/lib.sh
. "${here}/lib.sh"

# shellcheck disable=SC2317 # run by the EXIT trap.
down() {
	local rc=$? down_rc=0
	trap - EXIT INT TERM
	"${repo}/hack/kube-down.sh" || down_rc=$?
	if ((rc == 0 && down_rc != 0)); then
		rc=${down_rc}
	fi
	exit "${rc}"
}
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

up_start=${SECONDS}
env_lines=$(KUBE_UP_HELM=1 "${repo}/hack/kube-up.sh")
eval "${env_lines}"
log "kube-up took $((SECONDS - up_start)) s"

cd "${repo}"
test_start=${SECONDS}
rc=0
# -p 1: the packages share one node, its device-plugin directory and its
# besteffort cgroup; two agents at once would fight over them.
go test -tags integration -p 1 -count=1 -timeout 15m ./test/integration/... ./test/chart/... "$@" || rc=$?
log "integration tests took $((SECONDS - test_start)) s (exit ${rc})"
exit "${rc}"

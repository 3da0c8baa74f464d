//go:build tools

// Package tools pins the commands the integration test cluster builds, so that
// `go mod tidy` in this wrapper module keeps every module they need. It is
// never compiled; hack/kube/build.sh builds the listed packages.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)

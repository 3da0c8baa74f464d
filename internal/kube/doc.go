// Package kube holds the agent's Kubernetes adapters: the informer on the
// node's pods that tells offline pods from online ones (PodWatcher), the
// Eviction API client that evicts offline pods and records why (Evictor,
// Recorder), and the live NodeSLO read from the ConfigMap bigbox-nodeslo
// (ConfigMapSource) with the node labels that choose its per-node overrides
// (NodeWatcher).
//
// Every part takes a kubernetes.Interface, so unit tests run on client-go's
// fake clientset and integration tests on a real API server; nothing here
// fakes anything. Long-running parts have Run(ctx) and keep their last
// known state while the API server is unreachable: the informers' caches
// stay, and the agent's cgroup sampling does not depend on them.
//
// # Offline and online
//
// A pod is offline work, which bigbox may throttle and evict, when it carries
// the label bigbox.dev/colocation: "true" or when any of its containers or
// init containers requests (or limits) a non-zero amount of a resource named
// bigbox.dev/* (bigbox.dev/cpu, bigbox.dev/memory). Every other pod is
// online, and bigbox never evicts an online pod: Evictor refuses it before
// calling the API.
//
// Caveat: the kubelet puts every BestEffort pod into the besteffort cgroup,
// the big box, whether it is a bigbox pod or not. A BestEffort pod without
// the label or the requests is online by the rule above, so it is never
// evicted, but it shares the big box and its CPU and memory limits with the
// offline pods. Clusters that run bigbox should give such pods requests (or
// the colocation label).
package kube

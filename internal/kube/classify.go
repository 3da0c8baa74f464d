package kube

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Names that mark offline pods (see the package comment).
const (
	// ColocationLabel set to "true" marks a pod as offline work.
	ColocationLabel = "bigbox.dev/colocation"
	// ResourcePrefix starts the names of bigbox's extended resources
	// (bigbox.dev/cpu, bigbox.dev/memory); requesting any marks a pod as
	// offline work.
	ResourcePrefix = "bigbox.dev/"
)

// IsOffline reports whether pod is offline work: the label
// bigbox.dev/colocation is "true", or a container or init container (sidecars
// included) requests or limits a non-zero amount of a bigbox.dev/* resource.
// Limits count as well as requests because the API server copies the limit
// of an extended resource into a missing request; a zero amount does not
// count, so a pod is never made evictable by an empty entry.
func IsOffline(pod *corev1.Pod) bool {
	if pod.Labels[ColocationLabel] == "true" {
		return true
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if requestsBigbox(cs[i].Resources.Requests) || requestsBigbox(cs[i].Resources.Limits) {
				return true
			}
		}
	}
	return false
}

func requestsBigbox(l corev1.ResourceList) bool {
	for name, q := range l {
		if strings.HasPrefix(string(name), ResourcePrefix) && !q.IsZero() {
			return true
		}
	}
	return false
}

// Package api holds the JSON shapes of the agent's local API (/v1/status),
// shared by the agent, bigboxctl and the demo. Units are base units: cores,
// bytes, seconds.
package api

import (
	"time"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// StatusPath is the route of the status document.
const StatusPath = "/v1/status"

// Status is the document served at /v1/status.
type Status struct {
	Node string    `json:"node"`
	Time time.Time `json:"time"`
	// Enabled is the effective switch (config and time window).
	Enabled bool `json:"enabled"`
	// Phase of the time windows: "open", "grace" or "closed".
	Phase string `json:"phase"`
	// Cooldown is set while an eviction cooldown is active.
	Cooldown      bool      `json:"cooldown"`
	CooldownUntil time.Time `json:"cooldown_until,omitzero"`
	// ConfigVersion identifies the NodeSLO in force (a content hash or the
	// ConfigMap's resourceVersion); ConfigError is the last rejected one.
	ConfigVersion string `json:"config_version"`
	ConfigError   string `json:"config_error,omitempty"`
	CgroupVersion int    `json:"cgroup_version"`
	CgroupDriver  string `json:"cgroup_driver"`
	BigBoxCgroup  string `json:"bigbox_cgroup"`

	CPU    Resource `json:"cpu"`
	Memory Resource `json:"memory"`

	// BigBox is what the besteffort cgroup is set to now.
	BigBox qos.BigBox `json:"bigbox"`
	// OfflinePods are the pods in the big box.
	OfflinePods []Pod `json:"offline_pods"`
	// Evictions are the most recent evictions, newest last.
	Evictions []Eviction `json:"evictions,omitempty"`
}

// Resource is one resource's numbers and how its lent amount came about.
type Resource struct {
	qos.Breakdown
	// Offline is what the big box uses now.
	Offline float64 `json:"offline"`
	// Limit is the big box limit (cores of quota, bytes); -1 when unlimited.
	Limit float64 `json:"limit"`
	// Advertised is what the device plugin offers; Held is what running
	// offline pods were allocated (both zero when no device plugin runs).
	Advertised float64 `json:"advertised"`
	Held       float64 `json:"held"`
	// Pressure is the "some" avg10 pressure stall share of online pods
	// (0–100), -1 when the kernel does not report it for this cgroup layout.
	Pressure float64 `json:"pressure_some_avg10"`
}

// Pod is an offline pod in the big box.
type Pod struct {
	ID          string  `json:"id"`
	Namespace   string  `json:"namespace,omitempty"`
	Name        string  `json:"name,omitempty"`
	Cgroup      string  `json:"cgroup"`
	CPU         float64 `json:"cpu"`
	MemoryBytes float64 `json:"memory_bytes"`
}

// Eviction records one eviction.
type Eviction struct {
	Time   time.Time `json:"time"`
	Pod    string    `json:"pod"`
	Reason string    `json:"reason"`
	Detail string    `json:"detail,omitempty"`
}

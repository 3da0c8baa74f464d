package config

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the series of a NodeSLO source, the same whether the NodeSLO
// comes from a file (Watcher) or from the ConfigMap (internal/kube); only
// one source runs in an agent.
type Metrics struct {
	errorsTotal prometheus.Counter
	versionInfo *prometheus.GaugeVec
}

// NewMetrics builds the series with version in force and registers them on
// reg (nil: none).
func NewMetrics(reg prometheus.Registerer, version string) (*Metrics, error) {
	m := &Metrics{
		errorsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bigbox_config_errors_total",
			Help: "NodeSLO versions rejected (unreadable or invalid); the last good version stays in force.",
		}),
		versionInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bigbox_config_version_info",
			Help: "Content hash of the NodeSLO in force (always 1).",
		}, []string{"version"}),
	}
	m.versionInfo.WithLabelValues(version).Set(1)
	if reg != nil {
		for _, c := range []prometheus.Collector{m.errorsTotal, m.versionInfo} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register config metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Rejected counts one rejected version.
func (m *Metrics) Rejected() { m.errorsTotal.Inc() }

// InForce moves the version series from old to version.
func (m *Metrics) InForce(old, version string) {
	m.versionInfo.DeleteLabelValues(old)
	m.versionInfo.WithLabelValues(version).Set(1)
}

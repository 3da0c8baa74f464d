package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// metrics are the agent's own series. Gauges that describe the node are
// read from the latest status snapshot at scrape time (node_exporter's
// const-metric style), so a scrape never sees half a tick.
type metrics struct {
	status func() (api.Status, bool)

	evictions      *prometheus.CounterVec
	tickErrors     *prometheus.CounterVec
	reaction       prometheus.Histogram
	offlineCPU     prometheus.Counter
	offlineMemory  prometheus.Counter
	throttled      prometheus.Counter
	throttledTime  prometheus.Counter
	onlinePeriods  prometheus.Counter
	restoreSeconds prometheus.Histogram

	enabled, capacity, online, system, reclaimable, lent, advertised, held,
	limit, usage, cpusetCPUs, cooldown, pressure, pods *prometheus.Desc
}

func newMetrics(reg prometheus.Registerer, status func() (api.Status, bool)) (*metrics, error) {
	res := []string{"resource"}
	m := &metrics{
		status: status,
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bigbox_evictions_total",
			Help: "Offline pods evicted by bigbox, by the watermark or rule that fired (memory, cpu, disk, disabled, window).",
		}, []string{"reason"}),
		tickErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bigbox_tick_errors_total",
			Help: "Control-loop ticks that failed to observe, decide or apply, by loop (cpu, memory).",
		}, []string{"loop"}),
		reaction: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bigbox_cpu_reaction_seconds",
			Help:    "Time from the start of the sampling interval that showed an online CPU rise to the completed shrink of the big box quota.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5},
		}),
		offlineCPU: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bigbox_offline_cpu_seconds_total",
			Help: "Core-seconds of CPU used by offline work in the big box (the benefit).",
		}),
		offlineMemory: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bigbox_offline_memory_byte_seconds_total",
			Help: "Byte-seconds of memory (working set) used by offline work in the big box (the benefit).",
		}),
		onlinePeriods: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bigbox_online_cpu_periods_total",
			Help: "CFS enforcement periods of online pods.",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bigbox_online_cpu_throttled_periods_total",
			Help: "CFS periods in which online pods were throttled (interference).",
		}),
		throttledTime: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bigbox_online_cpu_throttled_seconds_total",
			Help: "Time online pods spent throttled by their CFS quota (interference).",
		}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bigbox_restore_duration_seconds",
			Help:    "Time taken to put the big box cgroup back to its original values.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1},
		}),
		enabled:     prometheus.NewDesc("bigbox_colocation_enabled", "1 when colocation is in force (switch on and inside a time window), else 0.", nil, nil),
		capacity:    prometheus.NewDesc("bigbox_node_capacity", "Node capacity (cores, bytes).", res, nil),
		online:      prometheus.NewDesc("bigbox_online_usage", "Usage of online pods, all pods outside the big box (cores, bytes).", res, nil),
		system:      prometheus.NewDesc("bigbox_system_usage", "Usage outside the kubepods cgroup (cores, bytes).", res, nil),
		reclaimable: prometheus.NewDesc("bigbox_reclaimable", "Raw reclaimable amount: capacity × reclaim watermark − online − system (cores, bytes).", res, nil),
		lent:        prometheus.NewDesc("bigbox_lent", "Amount lent to offline work after hysteresis, cooldown, time windows and the switch (cores, bytes).", res, nil),
		advertised:  prometheus.NewDesc("bigbox_advertised", "Amount advertised as extended resources, never below what is held (cores, bytes).", res, nil),
		held:        prometheus.NewDesc("bigbox_held", "Amount allocated to running offline pods (cores, bytes).", res, nil),
		limit:       prometheus.NewDesc("bigbox_besteffort_limit", "Limit of the big box cgroup: CFS quota in cores, memory limit in bytes; -1 when unlimited.", res, nil),
		usage:       prometheus.NewDesc("bigbox_besteffort_usage", "Usage of the big box cgroup (cores, bytes).", res, nil),
		cpusetCPUs:  prometheus.NewDesc("bigbox_besteffort_cpuset_cpus", "Number of CPUs in the big box cpuset.", nil, nil),
		cooldown:    prometheus.NewDesc("bigbox_cooldown_active", "1 while an eviction cooldown holds lending, else 0.", nil, nil),
		pressure:    prometheus.NewDesc("bigbox_online_pressure_some_ratio", "Share of time (0–1, avg10) some online tasks stalled on the resource; node-wide where the cgroup layout has no per-cgroup pressure.", res, nil),
		pods:        prometheus.NewDesc("bigbox_offline_pods", "Offline pods in the big box.", nil, nil),
	}
	for _, c := range []prometheus.Collector{m.evictions, m.tickErrors, m.reaction, m.offlineCPU, m.offlineMemory,
		m.onlinePeriods, m.throttled, m.throttledTime, m.restoreSeconds, m} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{qos.ReasonMemory, qos.ReasonCPU, qos.ReasonDisabled, qos.ReasonWindow} {
		m.evictions.WithLabelValues(r) // export zero so alerts can use rate()
	}
	for _, l := range []string{"cpu", "memory"} {
		m.tickErrors.WithLabelValues(l)
	}
	return m, nil
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.enabled, m.capacity, m.online, m.system, m.reclaimable, m.lent,
		m.advertised, m.held, m.limit, m.usage, m.cpusetCPUs, m.cooldown, m.pressure, m.pods} {
		ch <- d
	}
}

// Collect implements prometheus.Collector from the latest status snapshot.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	st, ok := m.status()
	if !ok {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(m.enabled, b2f(st.Enabled))
	gauge(m.cooldown, b2f(st.Cooldown))
	gauge(m.cpusetCPUs, float64(cpusetSize(st)))
	gauge(m.pods, float64(len(st.OfflinePods)))
	for _, r := range []struct {
		name string
		res  api.Resource
	}{{"cpu", st.CPU}, {"memory", st.Memory}} {
		gauge(m.capacity, r.res.Capacity, r.name)
		gauge(m.online, r.res.Online, r.name)
		gauge(m.system, r.res.System, r.name)
		gauge(m.reclaimable, r.res.Raw, r.name)
		gauge(m.lent, r.res.Lent, r.name)
		gauge(m.advertised, r.res.Advertised, r.name)
		gauge(m.held, r.res.Held, r.name)
		gauge(m.limit, r.res.Limit, r.name)
		gauge(m.usage, r.res.Offline, r.name)
		if r.res.Pressure >= 0 {
			gauge(m.pressure, r.res.Pressure/100, r.name)
		}
	}
}

// cpusetSize is the number of CPUs the big box may run on.
func cpusetSize(st api.Status) int {
	if len(st.BigBox.CPUs) > 0 {
		return len(st.BigBox.CPUs)
	}
	return int(st.CPU.Capacity)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

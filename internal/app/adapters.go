package app

import (
	"github.com/bigbox-dev/bigbox/internal/agent"
	"github.com/bigbox-dev/bigbox/internal/sampler"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// cpuAdapter gives the agent the sampler's fast CPU path.
type cpuAdapter struct{ s *sampler.Sampler }

func (a cpuAdapter) SampleCPU() (qos.Usage, bool, error) {
	cs, err := a.s.SampleCPU()
	if err != nil {
		return qos.Usage{}, false, err
	}
	return cs.Usage, cs.OK, nil
}

// fullAdapter gives the agent the sampler's full scan. Offline pods are the
// pods in the big box; in Kubernetes mode offline also filters them to the
// pods the API server knows as bigbox pods (a BestEffort pod that is not
// one shares the box but is never a victim).
type fullAdapter struct {
	s       *sampler.Sampler
	offline func([]agent.OfflinePod) []agent.OfflinePod
}

func (a fullAdapter) Sample() (agent.Observation, error) {
	o, err := a.s.Sample()
	if err != nil {
		return agent.Observation{}, err
	}
	obs := observation(o)
	if a.offline != nil {
		obs.Offline = a.offline(obs.Offline)
	}
	return obs, nil
}

func (a fullAdapter) SampleNode() (agent.Observation, error) {
	o, err := a.s.SampleNode()
	if err != nil {
		return agent.Observation{}, err
	}
	return observation(o), nil
}

func observation(o sampler.Observation) agent.Observation {
	out := agent.Observation{
		Time:                   o.Time,
		Memory:                 o.Memory,
		Topology:               o.Topology,
		CPUBusy:                o.CPUBusy,
		OnlinePeriods:          o.OnlineThrottling.Periods,
		OnlineThrottled:        o.OnlineThrottling.Throttled,
		OnlineThrottledSeconds: o.OnlineThrottling.ThrottledSeconds,
		// No cgroup holds exactly the online pods (kubepods minus the big
		// box), so online pressure is the node's: what stalls online work
		// shows there first.
		CPUPressure:    avg10(o.NodePressure, "cpu"),
		MemoryPressure: avg10(o.NodePressure, "memory"),
	}
	if o.CPUValid {
		out.CPU = o.CPU
	}
	for _, p := range o.Pods {
		if p.QOSClass.Online() {
			continue
		}
		out.Offline = append(out.Offline, agent.OfflinePod{
			Pod:   qos.Pod{ID: p.UID, CPU: p.CPU, MemoryBytes: p.MemoryBytes},
			Group: p.Group,
		})
	}
	return out
}

func avg10(p sampler.Pressure, resource string) float64 {
	psi, ok := p[resource]
	if !ok {
		return -1
	}
	return psi.Some.Avg10
}

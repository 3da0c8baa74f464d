// Package ctl implements bigboxctl's commands. Formatting is separated from
// the HTTP fetch so tests compare the text for a given status.
package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// FetchStatus reads /v1/status from the agent at addr ("host:port" or a URL).
func FetchStatus(ctx context.Context, client *http.Client, addr string) (api.Status, error) {
	url := addr
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	url = strings.TrimRight(url, "/") + api.StatusPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return api.Status{}, fmt.Errorf("build request for %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return api.Status{}, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return api.Status{}, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return api.Status{}, fmt.Errorf("get %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	var st api.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return api.Status{}, fmt.Errorf("decode %s: %w", url, err)
	}
	return st, nil
}

// WriteStatus prints a short summary of the node.
func WriteStatus(w io.Writer, st api.Status) error {
	p := &printer{w: w}
	state := "enabled"
	if !st.Enabled {
		state = "disabled"
	}
	p.f("node %s at %s: colocation %s, window %s", st.Node, st.Time.Format(time.RFC3339), state, st.Phase)
	if st.Cooldown {
		p.f(", eviction cooldown until %s", st.CooldownUntil.Format(time.TimeOnly))
	}
	p.f("\n")
	p.f("config %s", st.ConfigVersion)
	if st.ConfigError != "" {
		p.f(" (last update rejected: %s)", st.ConfigError)
	}
	p.f("; cgroup v%d, %s driver, big box %s\n\n", st.CgroupVersion, st.CgroupDriver, st.BigBoxCgroup)
	p.f("%-8s %10s %10s %10s %12s %10s %10s %10s\n", "", "capacity", "system", "online", "reclaimable", "lent", "limit", "offline")
	p.f("%-8s %10s %10s %10s %12s %10s %10s %10s\n", "cpu", cores(st.CPU.Capacity), cores(st.CPU.System),
		cores(st.CPU.Online), cores(st.CPU.Raw), cores(st.CPU.Lent), limit(st.CPU.Limit, cores), cores(st.CPU.Offline))
	p.f("%-8s %10s %10s %10s %12s %10s %10s %10s\n", "memory", byteSize(st.Memory.Capacity), byteSize(st.Memory.System),
		byteSize(st.Memory.Online), byteSize(st.Memory.Raw), byteSize(st.Memory.Lent), limit(st.Memory.Limit, byteSize), byteSize(st.Memory.Offline))
	p.f("\nbig box cpuset %s, %d offline pod(s)\n", cpuset(st.BigBox.CPUs), len(st.OfflinePods))
	for _, e := range st.Evictions {
		p.f("evicted %s at %s (%s: %s)\n", e.Pod, e.Time.Format(time.TimeOnly), e.Reason, e.Detail)
	}
	return p.err
}

// WriteExplain prints, term by term, why the node lends what it lends.
func WriteExplain(w io.Writer, st api.Status) error {
	p := &printer{w: w}
	p.f("node %s at %s\n", st.Node, st.Time.Format(time.RFC3339))
	switch {
	case !st.Enabled && st.Phase == "closed":
		p.f("outside every colocation time window: nothing is lent and offline pods are evicted\n")
	case !st.Enabled:
		p.f("colocation is switched off: nothing is lent, offline pods are evicted, the big box is restored\n")
	case st.Phase == "grace":
		p.f("in the grace period before a window ends: nothing new is lent, running work may finish\n")
	}
	if st.Cooldown {
		p.f("eviction cooldown until %s: nothing new is lent\n", st.CooldownUntil.Format(time.RFC3339))
	}
	explainResource(p, "cpu", st.CPU, cores)
	explainResource(p, "memory", st.Memory, byteSize)
	b := st.BigBox
	p.f("\nbig box %s:\n", st.BigBoxCgroup)
	if b.CPUQuotaMicros < 0 {
		p.f("  cpu quota     unlimited\n")
	} else {
		p.f("  cpu quota     %d µs per %d µs = %s (never below the floor, so offline work is slowed, not frozen)\n",
			b.CPUQuotaMicros, b.CPUPeriodMicros, cores(float64(b.CPUQuotaMicros)/float64(max(b.CPUPeriodMicros, 1))))
	}
	p.f("  cpu weight    %d (the minimum: online work wins every contended CPU)\n", b.CPUWeight)
	p.f("  cpuset        %s (whole physical cores, where online work runs least)\n", cpuset(b.CPUs))
	p.f("  memory limit  %s\n", limit(float64(b.MemoryLimitBytes), byteSize))
	p.f("  oom_score_adj %d (offline processes die first when memory runs out)\n", b.OOMScoreAdj)
	return p.err
}

func explainResource(p *printer, name string, r api.Resource, unit func(float64) string) {
	p.f("\n%s: lending %s", name, unit(r.Lent))
	if r.Advertised > 0 || r.Held > 0 {
		p.f(" (advertised %s, held by running offline pods %s)", unit(r.Advertised), unit(r.Held))
	}
	p.f("\n")
	p.f("    capacity                         %12s\n", unit(r.Capacity))
	p.f("  × reclaim watermark %5.1f%%        %12s\n", r.WatermarkPct, unit(r.Capacity*r.WatermarkPct/100))
	online := max(r.Online, r.PredictedOnline)
	p.f("  − online (now %s, predicted %s) %12s\n", unit(r.Online), unit(r.PredictedOnline), "−"+unit(online))
	system := max(r.System, r.SystemReserved)
	p.f("  − system (now %s, reserved %s)  %12s\n", unit(r.System), unit(r.SystemReserved), "−"+unit(system))
	p.f("  = reclaimable                     %12s\n", unit(r.Raw))
	p.f("  lent                              %12s\n", unit(r.Lent))
	for _, why := range r.Reasons {
		p.f("      because %s\n", why)
	}
	if r.Pressure >= 0 {
		p.f("  online pressure stall (some, avg10) %.1f%%\n", r.Pressure)
	}
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format, args...)
}

func cores(v float64) string { return fmt.Sprintf("%.2f", v) }

func byteSize(v float64) string {
	const (
		mib = 1 << 20
		gib = 1 << 30
	)
	switch {
	case v >= gib || v <= -gib:
		return fmt.Sprintf("%.2fGi", v/gib)
	default:
		return fmt.Sprintf("%.0fMi", v/mib)
	}
}

func limit(v float64, unit func(float64) string) string {
	if v < 0 {
		return "unlimited"
	}
	return unit(v)
}

func cpuset(cpus []int) string {
	if len(cpus) == 0 {
		return "all CPUs"
	}
	return cgroup.FormatCPUList(cpus)
}

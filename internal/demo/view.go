package demo

import (
	"fmt"
	"io"
	"strings"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// viewHeader names the columns of the live view; see docs/demo.md.
const viewHeader = "    t phase     load/s   ok/s  err  p50ms  p99ms | online  node offln procs | lent  quota cpus  memlim offmem"

// writeViewHeader prints the column names.
func writeViewHeader(w io.Writer) error {
	_, err := fmt.Fprintln(w, viewHeader)
	return err
}

// viewLine formats one second of the live view. procs is the number of
// offline burner processes alive.
func viewLine(s Sample, procs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5.0f %-8s %7.0f %6d %4d %6.2f %6.2f |", s.Seconds, s.Phase, s.LoadRPS, s.Requests-s.Errors, s.Errors, s.P50Millis, s.P99Millis)
	fmt.Fprintf(&b, " %6.2f %5.2f %5.2f %5d |", s.OnlineCores, s.NodeCores, s.OfflineCores, procs)
	lent := "    -"
	if s.Agent {
		lent = fmt.Sprintf("%5.2f", s.ReclaimableCores)
	}
	quota := "unlim"
	if s.QuotaCores >= 0 {
		quota = fmt.Sprintf("%5.2f", s.QuotaCores)
	}
	cpus := cgroup.FormatCPUList(s.CPUs)
	if cpus == "" {
		cpus = "all"
	}
	fmt.Fprintf(&b, " %s %6s %-5s %6s %6s", lent, quota, cpus, gib(s.MemoryLimitBytes), gib(s.OfflineMemoryBytes))
	return b.String()
}

// gib formats bytes as GiB, "unlim" for -1.
func gib(bytes float64) string {
	if bytes < 0 {
		return "unlim"
	}
	return fmt.Sprintf("%.2fG", bytes/bytesPerGiB)
}

// writeHumanSummary prints the end-of-run summary.
func writeHumanSummary(w io.Writer, s Summary, outDir string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nbigbox demo summary (%g cores; one day of %s replayed per phase, peak %.0f requests/s of %.2f ms CPU each)\n",
		s.CapacityCores, s.Trace, s.PeakRPS, s.WorkMillis)
	if s.Interrupted {
		b.WriteString("  (interrupted: partial results)\n")
	}
	fmt.Fprintf(&b, "  %-8s %5s %8s %6s %7s %7s %8s %6s %7s %9s\n", "phase", "secs", "requests", "errors", "p50 ms", "p99 ms", "p99.9 ms", "node%", "offline", "core-secs")
	for _, p := range s.Phases {
		fmt.Fprintf(&b, "  %-8s %5.0f %8d %6d %7.2f %7.2f %8.2f %5.0f%% %7.2f %9.1f\n",
			p.Phase, p.Seconds, p.Requests, p.Errors, p.P50Millis, p.P99Millis, p.P999Millis, p.NodeUtilization*100, p.OfflineCores, p.OfflineCoreSeconds)
	}
	c := s.Compare
	if s.Agent != nil && s.Agent.Error != "" {
		// The agent phase ran without the agent: its numbers are not "with
		// the agent".
		c.P99AgentVsAloneRatio, c.UtilizationGainAgent = nil, nil
	}
	if c.P99BurnersVsAloneRatio != nil {
		fmt.Fprintf(&b, "  p99 with burners, no agent: %.2f× alone (%+.2f ms)\n", *c.P99BurnersVsAloneRatio, *c.P99BurnersMinusAloneMs)
	}
	if c.P99AgentVsAloneRatio != nil {
		fmt.Fprintf(&b, "  p99 with burners and agent: %.2f× alone (%+.2f ms)\n", *c.P99AgentVsAloneRatio, *c.P99AgentMinusAloneMs)
	}
	if c.UtilizationGainAgent != nil && c.OfflineCoreSecondsGained != nil {
		fmt.Fprintf(&b, "  with the agent: node utilization %+.0f points over alone, %.1f offline core-seconds done\n", *c.UtilizationGainAgent*100, *c.OfflineCoreSecondsGained)
	}
	if s.Agent != nil {
		if s.Agent.Error != "" {
			fmt.Fprintf(&b, "  agent unavailable: %s\n", s.Agent.Error)
		} else {
			fmt.Fprintf(&b, "  agent: lent %.2f cores and %s on average; big box quota %.2f cores, memory limit %s\n",
				s.Agent.ReclaimableCores, gib(s.Agent.ReclaimableBytes), s.Agent.QuotaCores, gib(s.Agent.MemoryLimitBytes))
		}
	}
	fmt.Fprintf(&b, "  wrote %s/summary.json and %s/report.png\n", outDir, outDir)
	_, err := io.WriteString(w, b.String())
	return err
}

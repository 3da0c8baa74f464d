package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// validate checks a defaulted document: every field's range, the relations
// between fields, and each node override on its own and applied to the
// top-level values.
func (n *NodeSLO) validate() error {
	var errs []error
	errs = append(errs, validateResource("cpu", cpuKind, n.CPU)...)
	errs = append(errs, validateResource("memory", memoryKind, n.Memory)...)
	errs = append(errs, validateDuration("evictionCooldown", n.EvictionCooldown)...)
	errs = append(errs, validateDuration("cpuEvictAfter", n.CPUEvictAfter)...)
	errs = append(errs, validateWindows("timeWindows", n.TimeWindows)...)
	if n.TimeZone != nil {
		if _, err := time.LoadLocation(*n.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("timeZone: %q cannot be loaded: %w", *n.TimeZone, err))
		}
	}
	cfsOK := true
	if n.CFSPeriod != nil {
		if p := time.Duration(*n.CFSPeriod); p < minCFSPeriod || p > maxCFSPeriod {
			errs = append(errs, fmt.Errorf("cfsPeriod: %s is not within %s–%s", p, minCFSPeriod, maxCFSPeriod))
			cfsOK = false
		}
	}
	errs = append(errs, validateUnits(n.Units)...)
	for i, o := range n.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		errs = append(errs, validateSelector(p+".selector", o.Selector)...)
		errs = append(errs, validateResource(p+".cpu", cpuKind, o.CPU)...)
		errs = append(errs, validateResource(p+".memory", memoryKind, o.Memory)...)
		if o.TimeWindows != nil {
			errs = append(errs, validateWindows(p+".timeWindows", *o.TimeWindows)...)
		}
	}
	base := validateRelations(n.CPU, n.Memory, n.CFSPeriod, cfsOK)
	errs = append(errs, base...)
	// An override is checked applied to the top-level values; a problem the
	// top level has already is reported once, there.
	seen := make(map[string]bool, len(base))
	for _, err := range base {
		seen[err.Error()] = true
	}
	for i, o := range n.Nodes {
		for _, err := range validateRelations(n.CPU.merge(o.CPU), n.Memory.merge(o.Memory), n.CFSPeriod, cfsOK) {
			if !seen[err.Error()] {
				errs = append(errs, fmt.Errorf("nodes[%d]: with this override, %w", i, err))
			}
		}
	}
	return errors.Join(errs...)
}

// validateResource range-checks the fields r sets.
func validateResource(path string, kind resourceKind, r ResourceSLO) []error {
	var errs []error
	errs = append(errs, validatePercent(path+".reclaimWatermarkPercent", r.ReclaimWatermarkPercent)...)
	errs = append(errs, validatePercent(path+".evictWatermarkPercent", r.EvictWatermarkPercent)...)
	errs = append(errs, validatePercent(path+".evictReleasePercent", r.EvictReleasePercent)...)
	errs = append(errs, validatePercent(path+".deadbandPercent", r.DeadbandPercent)...)
	errs = append(errs, validateAmount(path+".systemReserved", kind, r.SystemReserved, false)...)
	errs = append(errs, validateAmount(path+".minLimit", kind, r.MinLimit, true)...)
	errs = append(errs, validateDuration(path+".growAfter", r.GrowAfter)...)
	errs = append(errs, validatePredictor(path+".predictor", r.Predictor)...)
	return errs
}

// validatePredictor range-checks the fields p sets. Whether a knob of zero
// is allowed depends on the name, which an override may leave to the level
// below: validateRelations checks that.
func validatePredictor(path string, p *Predictor) []error {
	if p == nil {
		return nil
	}
	var errs []error
	if p.Name != nil && !slices.Contains(PredictorNames(), *p.Name) {
		errs = append(errs, fmt.Errorf("%s.name: %q is not a predictor (%s)", path, *p.Name, strings.Join(PredictorNames(), ", ")))
	}
	if p.Knob != nil && !(*p.Knob >= 0 && *p.Knob <= 1) {
		errs = append(errs, fmt.Errorf("%s.knob: %s is not within 0–1 (a margin as a share of capacity, or a percentile)", path, pct(*p.Knob)))
	}
	if p.Horizon != nil {
		if h := time.Duration(*p.Horizon); h < minPredictorHorizon || h > maxPredictorHorizon {
			errs = append(errs, fmt.Errorf("%s.horizon: %s is not within %s–%s (7 days)", path, h, minPredictorHorizon, maxPredictorHorizon))
		}
	}
	return errs
}

// validateRelations checks the rules between fields; it skips values that
// are absent or out of range themselves, as those are reported on their own.
func validateRelations(cpu, memory ResourceSLO, cfsPeriod *Duration, cfsOK bool) []error {
	var errs []error
	for _, r := range []struct {
		name string
		ResourceSLO
	}{{"cpu", cpu}, {"memory", memory}} {
		if p := r.Predictor; p != nil && p.Name != nil && *p.Name == percentilePredictor && p.Knob != nil && *p.Knob == 0 {
			errs = append(errs, fmt.Errorf("%s.predictor.knob: 0 is not a percentile within (0, 1] (%s)", r.name, percentilePredictor))
		}
		if !isPercent(r.EvictWatermarkPercent) {
			continue
		}
		evict := *r.EvictWatermarkPercent
		if isPercent(r.ReclaimWatermarkPercent) && *r.ReclaimWatermarkPercent > evict {
			errs = append(errs, fmt.Errorf("%s.reclaimWatermarkPercent: %s is above %s.evictWatermarkPercent (%s)",
				r.name, pct(*r.ReclaimWatermarkPercent), r.name, pct(evict)))
		}
		if isPercent(r.EvictReleasePercent) && *r.EvictReleasePercent > evict {
			errs = append(errs, fmt.Errorf("%s.evictReleasePercent: %s is above %s.evictWatermarkPercent (%s)",
				r.name, pct(*r.EvictReleasePercent), r.name, pct(evict)))
		}
	}
	// The kernel refuses a CFS quota below 1ms, and the quota is never set
	// below the one of the minimum limit.
	if cfsOK && cfsPeriod != nil && cpu.MinLimit != nil && len(validateAmount("", cpuKind, cpu.MinLimit, true)) == 0 {
		quota := time.Duration(float64(cpu.MinLimit.MilliValue()) / 1000 * float64(*cfsPeriod))
		if quota < minCFSQuota {
			errs = append(errs, fmt.Errorf("cpu.minLimit: %s × cfsPeriod %s is a CFS quota of %s, below the kernel's minimum of %s",
				cpu.MinLimit, time.Duration(*cfsPeriod), quota, minCFSQuota))
		}
	}
	return errs
}

func validatePercent(path string, v *float64) []error {
	if v != nil && !isPercent(v) {
		return []error{fmt.Errorf("%s: %s is not within 0–100", path, pct(*v))}
	}
	return nil
}

// isPercent: v is set and within 0–100 (not NaN).
func isPercent(v *float64) bool { return v != nil && *v >= 0 && *v <= 100 }

// validateAmount checks a quantity of cores (cpu) or bytes (memory).
func validateAmount(path string, kind resourceKind, q *Quantity, positive bool) []error {
	if q == nil {
		return nil
	}
	switch {
	case q.Sign() < 0:
		return []error{fmt.Errorf("%s: %s is negative", path, q)}
	case positive && q.Sign() == 0:
		return []error{fmt.Errorf("%s: %s is not above zero", path, q)}
	}
	if kind == cpuKind {
		if q.Cmp(*resource.NewQuantity(maxCPUCores, resource.DecimalSI)) > 0 {
			return []error{fmt.Errorf("%s: %s cores is more than %d", path, q, maxCPUCores)}
		}
		if positive && q.MilliValue() == 0 {
			return []error{fmt.Errorf("%s: %s is below one millicore", path, q)}
		}
		return nil
	}
	if q.Cmp(resource.MustParse(maxMemoryQuantity)) > 0 {
		return []error{fmt.Errorf("%s: %s is more than %s", path, q, maxMemoryQuantity)}
	}
	return nil
}

func validateDuration(path string, d *Duration) []error {
	if d != nil && *d < 0 {
		return []error{fmt.Errorf("%s: %s is negative", path, time.Duration(*d))}
	}
	return nil
}

// hhmm is a local time of day, "H:MM" or "HH:MM", 00:00 to 23:59.
var hhmm = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)

// clockTime parses "HH:MM" into an offset from midnight.
func clockTime(s string) (time.Duration, bool) {
	m := hhmm.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1]) // the pattern admits digits only
	mi, _ := strconv.Atoi(m[2])
	return time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute, true
}

// windowLength is how long a window from start to end lasts; end at or
// before start ends on the next day.
func windowLength(start, end time.Duration) time.Duration {
	if end <= start {
		end += 24 * time.Hour
	}
	return end - start
}

func validateWindows(path string, ws []TimeWindow) []error {
	var errs []error
	for i, w := range ws {
		p := fmt.Sprintf("%s[%d]", path, i)
		for j, d := range w.Days {
			if _, ok := parseDay(d); !ok {
				errs = append(errs, fmt.Errorf("%s.days[%d]: %q is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)", p, j, d))
			}
		}
		start, okStart := clockTime(w.Start)
		if !okStart {
			errs = append(errs, fmt.Errorf("%s.start: %q is not HH:MM", p, w.Start))
		}
		end, okEnd := clockTime(w.End)
		if !okEnd {
			errs = append(errs, fmt.Errorf("%s.end: %q is not HH:MM", p, w.End))
		}
		if w.Grace == nil {
			continue
		}
		if *w.Grace < 0 {
			errs = append(errs, fmt.Errorf("%s.grace: %s is negative", p, time.Duration(*w.Grace)))
			continue
		}
		if okStart && okEnd {
			if l := windowLength(start, end); time.Duration(*w.Grace) >= l {
				errs = append(errs, fmt.Errorf("%s.grace: %s is not shorter than the window (%s)", p, time.Duration(*w.Grace), l))
			}
		}
	}
	return errs
}

func validateSelector(path string, s *metav1.LabelSelector) []error {
	if s == nil {
		return []error{fmt.Errorf("%s: required (use {} to match every node)", path)}
	}
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		return []error{fmt.Errorf("%s: %w", path, err)}
	}
	return nil
}

func validateUnits(u Units) []error {
	var errs []error
	if u.CPUMilli != nil && (*u.CPUMilli <= 0 || *u.CPUMilli > maxUnitCPUMilli) {
		errs = append(errs, fmt.Errorf("units.cpuMilli: %d is not within 1–%d", *u.CPUMilli, maxUnitCPUMilli))
	}
	if q := u.MemoryBytes; q != nil {
		limit := resource.MustParse(maxUnitMemoryQuantity)
		switch {
		case q.Sign() <= 0 || q.Cmp(limit) > 0:
			errs = append(errs, fmt.Errorf("units.memoryBytes: %s is not within 1–%s", q, maxUnitMemoryQuantity))
		case q.MilliValue()%1000 != 0:
			errs = append(errs, fmt.Errorf("units.memoryBytes: %s is not a whole number of bytes", q))
		}
	}
	return errs
}

// pct formats a percentage the shortest way that reads back the same.
func pct(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

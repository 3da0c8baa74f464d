package qos

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidPolicy is wrapped by every error Validate returns.
var ErrInvalidPolicy = errors.New("invalid policy")

// MiB is 2^20 bytes.
const MiB = 1 << 20

// DefaultPolicy is the production node SLO (PRODUCT.md): CPU lends up to
// 65% and evicts above 90%, memory 70% and 90%, eviction frees 10 points
// below the evict watermark and cools down for 10 minutes; CPU rises after
// 10 s within a 2% deadband, memory after 60 s within 1%; CPU evicts after
// 10 s over; the big box never gets less than 0.1 core and 64 MiB;
// colocation is always allowed.
func DefaultPolicy() Policy {
	return Policy{
		Enabled: true,
		CPU: ResourcePolicy{
			ReclaimWatermarkPercent: 65,
			EvictWatermarkPercent:   90,
			EvictReleasePercent:     10,
			SystemReserved:          0,
			MinLimit:                0.1,
			DeadbandPercent:         2,
			GrowAfter:               10 * time.Second,
		},
		Memory: ResourcePolicy{
			ReclaimWatermarkPercent: 70,
			EvictWatermarkPercent:   90,
			EvictReleasePercent:     10,
			SystemReserved:          0,
			MinLimit:                64 * MiB,
			DeadbandPercent:         1,
			GrowAfter:               60 * time.Second,
		},
		EvictionCooldown: 10 * time.Minute,
		CPUEvictAfter:    10 * time.Second,
		CFSPeriod:        DefaultCFSPeriod,
	}
}

// Validate checks every range of p and returns all violations joined, each
// naming its field as the NodeSLO YAML spells it (e.g.
// "cpu.evictWatermarkPercent") and wrapping ErrInvalidPolicy.
func (p Policy) Validate() error {
	var errs []error
	errs = append(errs, validateResource(p.CPU, "cpu")...)
	errs = append(errs, validateResource(p.Memory, "memory")...)
	if p.EvictionCooldown < 0 {
		errs = append(errs, fieldError("evictionCooldown", "%s is negative", p.EvictionCooldown))
	}
	if p.CPUEvictAfter < 0 {
		errs = append(errs, fieldError("cpuEvictAfter", "%s is negative", p.CPUEvictAfter))
	}
	if p.CFSPeriod != 0 && (p.CFSPeriod < time.Millisecond || p.CFSPeriod > time.Second) {
		errs = append(errs, fieldError("cfsPeriod", "%s not in [1ms, 1s] (kernel range of cpu.cfs_period_us)", p.CFSPeriod))
	}
	for i, w := range p.Windows {
		if err := validateWindow(w, fmt.Sprintf("timeWindows[%d]", i)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func validateResource(r ResourcePolicy, name string) []error {
	var errs []error
	percent := func(field string, v float64) bool {
		if !finite(v) || v < 0 || v > 100 {
			errs = append(errs, fieldError(name+"."+field, "%v not in [0, 100]", v))
			return false
		}
		return true
	}
	okReclaim := percent("reclaimWatermarkPercent", r.ReclaimWatermarkPercent)
	okEvict := percent("evictWatermarkPercent", r.EvictWatermarkPercent)
	okRelease := percent("evictReleasePercent", r.EvictReleasePercent)
	percent("deadbandPercent", r.DeadbandPercent)
	if okReclaim && okEvict && r.ReclaimWatermarkPercent > r.EvictWatermarkPercent {
		errs = append(errs, fieldError(name+".reclaimWatermarkPercent", "%v above evictWatermarkPercent %v",
			r.ReclaimWatermarkPercent, r.EvictWatermarkPercent))
	}
	if okRelease && okEvict && r.EvictReleasePercent > r.EvictWatermarkPercent {
		errs = append(errs, fieldError(name+".evictReleasePercent", "%v above evictWatermarkPercent %v",
			r.EvictReleasePercent, r.EvictWatermarkPercent))
	}
	if !finite(r.SystemReserved) || r.SystemReserved < 0 {
		errs = append(errs, fieldError(name+".systemReserved", "%v is negative or not finite", r.SystemReserved))
	}
	// A zero floor would freeze (CFS quota) or OOM-kill (memory limit) every
	// offline pod whenever nothing is lent.
	if !finite(r.MinLimit) || r.MinLimit <= 0 {
		errs = append(errs, fieldError(name+".minLimit", "%v is not positive", r.MinLimit))
	}
	if r.GrowAfter < 0 {
		errs = append(errs, fieldError(name+".growAfter", "%s is negative", r.GrowAfter))
	}
	return errs
}

// validateWindow checks one window; field prefixes the error.
func validateWindow(w TimeWindow, field string) error {
	const day = 24 * time.Hour
	var errs []error
	for i, d := range w.Days {
		if d < time.Sunday || d > time.Saturday {
			errs = append(errs, fieldError(fmt.Sprintf("%s.days[%d]", field, i), "%d is not a weekday", int(d)))
		}
	}
	if w.Start < 0 || w.Start >= day {
		errs = append(errs, fieldError(field+".start", "%s not in [00:00, 24:00)", w.Start))
	}
	if w.End < 0 || w.End >= day {
		errs = append(errs, fieldError(field+".end", "%s not in [00:00, 24:00)", w.End))
	}
	length := w.End - w.Start
	if w.End <= w.Start {
		length += day
	}
	switch {
	case w.Grace < 0:
		errs = append(errs, fieldError(field+".grace", "%s is negative", w.Grace))
	case w.Grace >= length:
		errs = append(errs, fieldError(field+".grace", "%s not shorter than the window (%s)", w.Grace, length))
	}
	return errors.Join(errs...)
}

func fieldError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidPolicy, field, fmt.Sprintf(format, args...))
}

// Package config reads the NodeSLO: the YAML document (ConfigMap
// bigbox-nodeslo, key nodeslo.yaml, or a file given with --config) that says
// how much of a node bigbox may lend, when, and when it must evict.
//
// Parse decodes strictly (an unknown field is an error naming it), fills the
// defaults and validates every field, reporting all problems at once with the
// path of each (`cpu.reclaimWatermarkPercent: 120 is not within 0–100`).
// NodeSLO.ForNode applies the per-node overrides and converts the result into
// the qos.Policy the policy functions take; NodeSLO.PredictorsForNode does
// the same for the online-peak predictors, an input of the policy rather
// than a part of it. Watcher follows the file live,
// including the atomic `..data` symlink swap of a Kubernetes ConfigMap
// volume, and keeps the last good version when a new one is invalid.
//
// docs/configuration.md is the reference of every field.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/bigbox-dev/bigbox/pkg/predict"
)

// NodeSLO is the NodeSLO document. Every optional field is a pointer so that
// an absent field can be told from a zero; after Parse the top-level fields
// hold the defaults where the document left them out. Node overrides stay
// partial: ForNode merges them.
type NodeSLO struct {
	// Enabled is the one-click switch (default true).
	Enabled *bool `json:"enabled,omitempty"`
	// CPU and Memory are the per-resource SLOs.
	CPU    ResourceSLO `json:"cpu,omitzero"`
	Memory ResourceSLO `json:"memory,omitzero"`
	// EvictionCooldown: after an eviction nothing new is lent for this long.
	EvictionCooldown *Duration `json:"evictionCooldown,omitempty"`
	// CPUEvictAfter: node CPU must stay above its evict watermark this long
	// before a pod is evicted for CPU.
	CPUEvictAfter *Duration `json:"cpuEvictAfter,omitempty"`
	// TimeWindows in which colocation is allowed; empty means always.
	TimeWindows []TimeWindow `json:"timeWindows,omitempty"`
	// TimeZone is the IANA name the windows are read in ("Local": the
	// node's zone).
	TimeZone *string `json:"timeZone,omitempty"`
	// CFSPeriod is the CFS period the big box quota is computed for.
	CFSPeriod *Duration `json:"cfsPeriod,omitempty"`
	// Units are the sizes of one device of the extended resources, shared
	// with the webhook.
	Units Units `json:"units,omitzero"`
	// Nodes are per-node overrides, applied in order to the nodes their
	// selector matches; a later override wins, field by field.
	Nodes []NodeOverride `json:"nodes,omitempty"`

	// version is the content hash of the document this was parsed from.
	version string
}

// ResourceSLO is the SLO of one resource. Quantities are cores for CPU
// ("500m", 0.5) and bytes for memory ("1Gi").
type ResourceSLO struct {
	// ReclaimWatermarkPercent: online + system + lent may reach this share
	// of capacity.
	ReclaimWatermarkPercent *float64 `json:"reclaimWatermarkPercent,omitempty"`
	// EvictWatermarkPercent: node usage above this share evicts offline
	// pods.
	EvictWatermarkPercent *float64 `json:"evictWatermarkPercent,omitempty"`
	// EvictReleasePercent: eviction frees usage down to the evict watermark
	// minus this.
	EvictReleasePercent *float64 `json:"evictReleasePercent,omitempty"`
	// SystemReserved is the least system usage assumed.
	SystemReserved *Quantity `json:"systemReserved,omitempty"`
	// MinLimit is the floor of the big box limit.
	MinLimit *Quantity `json:"minLimit,omitempty"`
	// DeadbandPercent: changes of the lent amount smaller than this share of
	// capacity are not made.
	DeadbandPercent *float64 `json:"deadbandPercent,omitempty"`
	// GrowAfter: the lent amount rises only after the higher value held
	// this long.
	GrowAfter *Duration `json:"growAfter,omitempty"`
	// Predictor forecasts the online peak over the time a lent resource
	// stays lent; reclaim subtracts max(online, forecast).
	Predictor *Predictor `json:"predictor,omitempty"`
}

// Predictor chooses the online-peak predictor of one resource (pkg/predict)
// and its parameters.
type Predictor struct {
	// Name is one of predict.Names() or "none" (no prediction: reclaim
	// subtracts the online usage of now); default "default".
	Name *string `json:"name,omitempty"`
	// Knob is the predictor's safety knob: for "decaying-histogram" the
	// percentile predicted, in (0, 1]; for the others a margin added to the
	// forecast as a share of the resource's capacity, 0–1. When a level
	// (the top level, an override) sets Name to another predictor without
	// setting Knob, the knob is that predictor's default, not the value of
	// the level below: a margin read as a percentile would mean something
	// else entirely.
	Knob *float64 `json:"knob,omitempty"`
	// Horizon is how long a lent resource is taken to stay lent: the
	// forecast is the peak of the next Horizon. Default 1h.
	Horizon *Duration `json:"horizon,omitempty"`
}

// PredictorSpec is the resolved predictor of one resource, as
// PredictorsForNode returns it: every field set.
type PredictorSpec struct {
	// Name is one of predict.Names() or PredictorNone.
	Name string
	// Knob is a percentile in (0, 1] when PercentileKnob, else a margin as a
	// share of capacity (0–1); multiply by the capacity for base units.
	Knob float64
	// Horizon is the forecast's horizon.
	Horizon time.Duration
}

// Validate checks the spec as the NodeSLO's validation does: a known name, a
// knob within 0–1 (above 0 for a percentile), a horizon within 1s–7d. A spec
// from PredictorsForNode is valid.
func (s PredictorSpec) Validate() error {
	p := &Predictor{Name: &s.Name, Knob: &s.Knob, Horizon: ptr(Duration(s.Horizon))}
	errs := validatePredictor("predictor", p)
	if len(errs) == 0 && s.PercentileKnob() && s.Knob == 0 {
		errs = append(errs, fmt.Errorf("predictor.knob: 0 is not a percentile within (0, 1] (%s)", percentilePredictor))
	}
	return errors.Join(errs...)
}

// PredictorNone is the predictor name that turns prediction off.
const PredictorNone = "none"

// PercentileKnob reports whether the spec's knob is a percentile rather
// than a margin as a share of capacity.
func (s PredictorSpec) PercentileKnob() bool { return s.Name == percentilePredictor }

// DefaultPredictorSpec is the predictor of a resource the NodeSLO leaves
// alone: "default", margin predict.DefaultMarginFraction of capacity, 1h.
func DefaultPredictorSpec() PredictorSpec {
	return PredictorSpec{Name: defaultPredictorName, Knob: predict.DefaultMarginFraction, Horizon: defaultPredictorHorizon}
}

// PredictorNames lists the names the predictor field takes: predict.Names()
// ("default" first) and PredictorNone.
func PredictorNames() []string { return append(predict.Names(), PredictorNone) }

// defaultKnob is the knob of a predictor when the document gives none.
func defaultKnob(name string) float64 {
	switch name {
	case percentilePredictor:
		return predict.DefaultPercentile
	case PredictorNone:
		return 0
	default:
		return predict.DefaultMarginFraction
	}
}

// merge returns p with every field that o sets replaced by o's; a new name
// without a knob drops the knob (see Predictor.Knob).
func (p *Predictor) merge(o *Predictor) *Predictor {
	if o == nil {
		return p
	}
	var r Predictor
	if p != nil {
		r = *p
	}
	if o.Name != nil {
		if r.Name == nil || *r.Name != *o.Name {
			r.Knob = nil
		}
		r.Name = o.Name
	}
	if o.Knob != nil {
		r.Knob = o.Knob
	}
	if o.Horizon != nil {
		r.Horizon = o.Horizon
	}
	return &r
}

// withDefaults fills the absent fields: the knob by the name.
func (p *Predictor) withDefaults() *Predictor {
	var r Predictor
	if p != nil {
		r = *p
	}
	if r.Name == nil {
		r.Name = ptr(defaultPredictorName)
	}
	if r.Knob == nil {
		r.Knob = ptr(defaultKnob(*r.Name))
	}
	if r.Horizon == nil {
		r.Horizon = ptr(Duration(defaultPredictorHorizon))
	}
	return &r
}

// TimeWindow is a span of the day in which colocation is allowed.
type TimeWindow struct {
	// Days the window starts on (Mon … Sun); empty means every day.
	Days []string `json:"days,omitempty"`
	// Start and End are local times "HH:MM"; End at or before Start means
	// the window ends on the next day.
	Start string `json:"start"`
	End   string `json:"end"`
	// Grace: lending stops this long before End.
	Grace *Duration `json:"grace,omitempty"`
}

// Units are the sizes of one device of bigbox.dev/cpu and bigbox.dev/memory.
type Units struct {
	// CPUMilli is the millicores of one bigbox.dev/cpu device (default 100).
	CPUMilli *int64 `json:"cpuMilli,omitempty"`
	// MemoryBytes is the size of one bigbox.dev/memory device (default
	// "64Mi").
	MemoryBytes *Quantity `json:"memoryBytes,omitempty"`
}

// NodeOverride changes some fields for the nodes its selector matches.
type NodeOverride struct {
	// Selector chooses nodes by label; {} matches every node. Required.
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	Enabled  *bool                 `json:"enabled,omitempty"`
	CPU      ResourceSLO           `json:"cpu,omitzero"`
	Memory   ResourceSLO           `json:"memory,omitzero"`
	// TimeWindows, when present, replace the windows as a whole; an empty
	// list means always.
	TimeWindows *[]TimeWindow `json:"timeWindows,omitempty"`
}

// Quantity is a resource.Quantity ("500m", 0.5, "1Gi") that refuses, before
// parsing, the inputs on which resource.ParseQuantity spends minutes: a
// decimal exponent like 1e-999999999 (rounding it to nanos computes 10 to
// that power) or a thousand-digit mantissa.
type Quantity struct{ resource.Quantity }

// UnmarshalJSON reads a quantity from a JSON string or number.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%s is not a quantity: %w", b, err)
		}
	}
	if len(s) > maxQuantityLen {
		return fmt.Errorf("%.20q… is longer than %d characters, too long for a quantity", s, maxQuantityLen)
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		if exp, err := strconv.Atoi(s[i+1:]); err == nil && (exp > maxQuantityExp || exp < -maxQuantityExp) {
			return fmt.Errorf("%q has an exponent beyond ±%d", s, maxQuantityExp)
		}
	}
	v, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("%q is not a quantity such as \"500m\", 2 or \"1Gi\"", s)
	}
	q.Quantity = v
	return nil
}

// mustQuantity parses a constant quantity.
func mustQuantity(s string) *Quantity { return &Quantity{resource.MustParse(s)} }

// Duration is a time.Duration written as a Go duration string ("30s",
// "10m", "1h30m").
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is not a duration string such as \"30s\"", bytes.TrimSpace(b))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"30s\" or \"10m\"", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// String is the duration string.
func (d Duration) String() string { return time.Duration(d).String() }

// UnitSizes are the resolved device sizes of the extended resources.
type UnitSizes struct {
	CPUMilli    int64
	MemoryBytes int64
}

// The defaults; docs/configuration.md lists them.
const (
	defaultCPUReclaimPercent   = 65
	defaultCPUEvictPercent     = 90
	defaultCPUReleasePercent   = 10
	defaultCPUSystemReserved   = "0"
	defaultCPUMinLimit         = "100m"
	defaultCPUDeadbandPercent  = 2
	defaultCPUGrowAfter        = 10 * time.Second
	defaultMemReclaimPercent   = 70
	defaultMemEvictPercent     = 90
	defaultMemReleasePercent   = 10
	defaultMemSystemReserved   = "0"
	defaultMemMinLimit         = "64Mi"
	defaultMemDeadbandPercent  = 1
	defaultMemGrowAfter        = 60 * time.Second
	defaultEvictionCooldown    = 10 * time.Minute
	defaultCPUEvictAfter       = 10 * time.Second
	defaultTimeZone            = "Local"
	defaultCFSPeriod           = 100 * time.Millisecond
	defaultUnitCPUMilli        = 100
	defaultPredictorName       = "default"
	defaultPredictorHorizon    = time.Hour
	percentilePredictor        = "decaying-histogram"
	maxPredictorHorizon        = 7 * 24 * time.Hour
	minPredictorHorizon        = time.Second
	defaultUnitMemoryBytes     = "64Mi"
	versionHexLen              = 12
	maxQuantityLen             = 64
	maxQuantityExp             = 30
	maxCPUCores                = 1_000_000
	maxMemoryQuantity          = "1Ei"
	maxUnitCPUMilli            = 1_000_000
	maxUnitMemoryQuantity      = "1Ti"
	minCFSPeriod, maxCFSPeriod = time.Millisecond, time.Second
	minCFSQuota                = time.Millisecond
)

// Default returns the NodeSLO of an empty document: every field at its
// default, no windows, no overrides.
func Default() *NodeSLO {
	n := &NodeSLO{version: Version(nil)}
	n.setDefaults()
	return n
}

// defaultResource returns the defaults of one resource.
func defaultResource(kind resourceKind) ResourceSLO {
	if kind == cpuKind {
		return ResourceSLO{
			ReclaimWatermarkPercent: ptr(float64(defaultCPUReclaimPercent)),
			EvictWatermarkPercent:   ptr(float64(defaultCPUEvictPercent)),
			EvictReleasePercent:     ptr(float64(defaultCPUReleasePercent)),
			SystemReserved:          mustQuantity(defaultCPUSystemReserved),
			MinLimit:                mustQuantity(defaultCPUMinLimit),
			DeadbandPercent:         ptr(float64(defaultCPUDeadbandPercent)),
			GrowAfter:               ptr(Duration(defaultCPUGrowAfter)),
		}
	}
	return ResourceSLO{
		ReclaimWatermarkPercent: ptr(float64(defaultMemReclaimPercent)),
		EvictWatermarkPercent:   ptr(float64(defaultMemEvictPercent)),
		EvictReleasePercent:     ptr(float64(defaultMemReleasePercent)),
		SystemReserved:          mustQuantity(defaultMemSystemReserved),
		MinLimit:                mustQuantity(defaultMemMinLimit),
		DeadbandPercent:         ptr(float64(defaultMemDeadbandPercent)),
		GrowAfter:               ptr(Duration(defaultMemGrowAfter)),
	}
}

// setDefaults fills every absent top-level field.
func (n *NodeSLO) setDefaults() {
	if n.Enabled == nil {
		n.Enabled = ptr(true)
	}
	n.CPU = defaultResource(cpuKind).merge(n.CPU)
	n.CPU.Predictor = n.CPU.Predictor.withDefaults()
	n.Memory = defaultResource(memoryKind).merge(n.Memory)
	n.Memory.Predictor = n.Memory.Predictor.withDefaults()
	if n.EvictionCooldown == nil {
		n.EvictionCooldown = ptr(Duration(defaultEvictionCooldown))
	}
	if n.CPUEvictAfter == nil {
		n.CPUEvictAfter = ptr(Duration(defaultCPUEvictAfter))
	}
	if n.TimeZone == nil {
		n.TimeZone = ptr(defaultTimeZone)
	}
	if n.CFSPeriod == nil {
		n.CFSPeriod = ptr(Duration(defaultCFSPeriod))
	}
	if n.Units.CPUMilli == nil {
		n.Units.CPUMilli = ptr(int64(defaultUnitCPUMilli))
	}
	if n.Units.MemoryBytes == nil {
		n.Units.MemoryBytes = mustQuantity(defaultUnitMemoryBytes)
	}
}

// merge returns r with every field that o sets replaced by o's.
func (r ResourceSLO) merge(o ResourceSLO) ResourceSLO {
	if o.ReclaimWatermarkPercent != nil {
		r.ReclaimWatermarkPercent = o.ReclaimWatermarkPercent
	}
	if o.EvictWatermarkPercent != nil {
		r.EvictWatermarkPercent = o.EvictWatermarkPercent
	}
	if o.EvictReleasePercent != nil {
		r.EvictReleasePercent = o.EvictReleasePercent
	}
	if o.SystemReserved != nil {
		r.SystemReserved = o.SystemReserved
	}
	if o.MinLimit != nil {
		r.MinLimit = o.MinLimit
	}
	if o.DeadbandPercent != nil {
		r.DeadbandPercent = o.DeadbandPercent
	}
	if o.GrowAfter != nil {
		r.GrowAfter = o.GrowAfter
	}
	r.Predictor = r.Predictor.merge(o.Predictor)
	return r
}

// Parse decodes a NodeSLO document strictly, fills the defaults and
// validates it. The error joins every problem found, each naming the path of
// its field. An empty document is all defaults.
func Parse(data []byte) (*NodeSLO, error) {
	var n NodeSLO
	if err := yaml.UnmarshalStrict(data, &n); err != nil {
		if problems := locate(data); len(problems) > 0 {
			return nil, errors.Join(problems...)
		}
		return nil, fmt.Errorf("decode NodeSLO: %w", err)
	}
	n.setDefaults()
	if err := n.validate(); err != nil {
		return nil, err
	}
	n.version = Version(data)
	return &n, nil
}

// Read reads a whole NodeSLO document from r and parses it.
func Read(r io.Reader) (*NodeSLO, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read NodeSLO: %w", err)
	}
	return Parse(data)
}

// Load reads and parses the NodeSLO file at path.
func Load(path string) (*NodeSLO, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read NodeSLO: %w", err)
	}
	n, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return n, nil
}

// Version is the content hash that identifies a NodeSLO document: the first
// 12 hex digits of the SHA-256 of its bytes.
func Version(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:versionHexLen]
}

// Version is the content hash of the document n was parsed from (see the
// function Version); empty for a NodeSLO built in code.
func (n *NodeSLO) Version() string { return n.version }

// UnitSizes returns the device sizes of the extended resources, the defaults
// where the document leaves them out.
func (n *NodeSLO) UnitSizes() UnitSizes {
	mem := resource.MustParse(defaultUnitMemoryBytes)
	u := UnitSizes{CPUMilli: defaultUnitCPUMilli, MemoryBytes: mem.Value()}
	if n.Units.CPUMilli != nil {
		u.CPUMilli = *n.Units.CPUMilli
	}
	if n.Units.MemoryBytes != nil {
		u.MemoryBytes = n.Units.MemoryBytes.Value()
	}
	return u
}

// resourceKind tells the two resources apart where their units differ.
type resourceKind int

const (
	cpuKind resourceKind = iota
	memoryKind
)

func (k resourceKind) String() string {
	if k == cpuKind {
		return "cpu"
	}
	return "memory"
}

// parseDay reads a day name: Mon … Sun or Monday … Sunday, any case.
func parseDay(s string) (time.Weekday, bool) {
	l := strings.ToLower(s)
	for d := time.Sunday; d <= time.Saturday; d++ {
		full := strings.ToLower(d.String())
		if l == full || l == full[:3] {
			return d, true
		}
	}
	return 0, false
}

func ptr[T any](v T) *T { return &v }

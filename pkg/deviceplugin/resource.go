// Package deviceplugin is the kubelet device plugin (API v1beta1) that
// advertises the CPU and memory a node lends to offline pods as the extended
// resources bigbox.dev/cpu and bigbox.dev/memory.
//
// One Plugin serves one resource. Each device stands for a fixed unit (100
// millicores, 64 MiB by default), so an amount is a device count. The agent
// sets the count (SetAmount) and the device IDs that running pods already hold
// (SetHeld, read with HeldSource from the kubelet's PodResources API); the
// plugin always lists every held ID, so a kubelet restart never rejects a
// running pod. Run serves the gRPC DevicePlugin service on a unix socket in the
// kubelet's device-plugin directory, registers with the kubelet, and serves and
// registers again when the kubelet restarts. See docs/deviceplugin.md.
package deviceplugin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Names and default unit sizes of the extended resources (docs/product.md).
const (
	CPUResourceName    = "bigbox.dev/cpu"
	MemoryResourceName = "bigbox.dev/memory"

	DefaultCPUUnitMillicores = 100
	DefaultMemoryUnitBytes   = 64 << 20
)

// Kind selects the environment variables Allocate gives a container.
type Kind int

// Kinds of resource.
const (
	// KindCPU sets <prefix>_MILLICORES and <prefix>_CORES (rounded up).
	KindCPU Kind = iota + 1
	// KindMemory sets <prefix>_BYTES.
	KindMemory
)

func (k Kind) String() string {
	switch k {
	case KindCPU:
		return "cpu"
	case KindMemory:
		return "memory"
	default:
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Resource describes the extended resource one Plugin serves.
type Resource struct {
	// Name is the extended resource name, e.g. "bigbox.dev/cpu".
	Name string
	// UnitSize is what one device stands for: millicores for KindCPU,
	// bytes for KindMemory.
	UnitSize int64
	// EnvPrefix starts the names of the environment variables Allocate sets,
	// e.g. "BIGBOX_CPU".
	EnvPrefix string
	// Kind selects the environment variables.
	Kind Kind
}

// CPU returns the bigbox.dev/cpu resource with one device per unitMillicores.
func CPU(unitMillicores int64) Resource {
	return Resource{Name: CPUResourceName, UnitSize: unitMillicores, EnvPrefix: "BIGBOX_CPU", Kind: KindCPU}
}

// Memory returns the bigbox.dev/memory resource with one device per unitBytes.
func Memory(unitBytes int64) Resource {
	return Resource{Name: MemoryResourceName, UnitSize: unitBytes, EnvPrefix: "BIGBOX_MEMORY", Kind: KindMemory}
}

// Validate reports what is wrong with r, if anything.
func (r Resource) Validate() error {
	var errs []error
	domain, short, ok := strings.Cut(r.Name, "/")
	// The part after the slash becomes the socket name, so it is kept to a
	// DNS label (which the kubelet expects of resource names anyway).
	if !ok || !isLabel(domain, ".") || !isLabel(short, "") {
		errs = append(errs, fmt.Errorf("resource name %q: want <domain>/<dns-label>", r.Name))
	} else if domain == "kubernetes.io" || strings.HasSuffix(domain, ".kubernetes.io") {
		errs = append(errs, fmt.Errorf("resource name %q: the kubernetes.io domain is not for extended resources", r.Name))
	}
	if r.UnitSize <= 0 {
		errs = append(errs, fmt.Errorf("unit size %d: must be positive", r.UnitSize))
	}
	if !isEnvName(r.EnvPrefix) {
		errs = append(errs, fmt.Errorf("env prefix %q: want [A-Z_][A-Z0-9_]*", r.EnvPrefix))
	}
	if r.Kind != KindCPU && r.Kind != KindMemory {
		errs = append(errs, fmt.Errorf("kind %v: want cpu or memory", r.Kind))
	}
	return errors.Join(errs...)
}

// isLabel reports whether s is lower-case letters, digits and dashes (and
// the characters in extra), starting and ending with a letter or digit.
func isLabel(s, extra string) bool {
	maxLen := 63
	if extra != "" {
		maxLen = 253 // a DNS subdomain
	}
	if s == "" || len(s) > maxLen || s[0] == '-' || s[len(s)-1] == '-' || strings.ContainsAny(s[:1]+s[len(s)-1:], extra) {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}

// isEnvName reports whether s is upper-case letters, digits and underscores,
// not starting with a digit.
func isEnvName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// shortName is the part of the name after the slash ("cpu", "memory").
func (r Resource) shortName() string {
	return r.Name[strings.IndexByte(r.Name, '/')+1:]
}

// UnitsFloor converts an amount (millicores or bytes) to whole devices,
// rounding down: a node never advertises more than it can lend.
func (r Resource) UnitsFloor(amount int64) int64 {
	if amount <= 0 {
		return 0
	}
	return amount / r.UnitSize
}

// Amount converts a device count to millicores or bytes.
func (r Resource) Amount(units int64) int64 {
	return units * r.UnitSize
}

// Env returns the environment variables for a container that holds units
// devices:
//
//	<prefix>_UNITS       the device count
//	<prefix>_MILLICORES  units × unit size               (KindCPU)
//	<prefix>_CORES       millicores / 1000, rounded up    (KindCPU)
//	<prefix>_BYTES       units × unit size               (KindMemory)
//
// The numbers are the container's share when it was created; the big box
// grows and shrinks underneath it, but the share is what the scheduler
// counted, so an executor may size its parallelism by it.
func (r Resource) Env(units int64) map[string]string {
	amount := r.Amount(units)
	env := map[string]string{r.EnvPrefix + "_UNITS": strconv.FormatInt(units, 10)}
	switch r.Kind {
	case KindCPU:
		env[r.EnvPrefix+"_MILLICORES"] = strconv.FormatInt(amount, 10)
		env[r.EnvPrefix+"_CORES"] = strconv.FormatInt((amount+999)/1000, 10)
	case KindMemory:
		env[r.EnvPrefix+"_BYTES"] = strconv.FormatInt(amount, 10)
	}
	return env
}

// Package webhook is bigbox's mutating admission webhook (admission/v1).
//
// A pod labelled bigbox.dev/colocation: "true" has the native cpu and memory
// requests and limits of every container and init container replaced by the
// extended resources bigbox.dev/cpu and bigbox.dev/memory, counted in devices
// of the configured unit size and rounded up. The pod then carries no native
// cpu or memory, so it is BestEffort and the kubelet puts it in the besteffort
// cgroup, the big box; the scheduler places it by the extended resources the
// agent advertises. The original values are kept in the annotation
// bigbox.dev/original-resources. Mutate is the pure conversion; Handler serves
// it over HTTP; CertReloader serves a TLS certificate that may change on disk;
// Server wires them. See docs/webhook.md.
package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/inf.v0"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Names fixed by PRODUCT.md and docs/webhook.md.
const (
	// LabelColocation marks a pod as offline work; only the value "true"
	// selects it.
	LabelColocation = "bigbox.dev/colocation"
	// AnnotationOriginalResources holds the native cpu and memory requests
	// and limits that Mutate removed, as JSON (see OriginalResources).
	AnnotationOriginalResources = "bigbox.dev/original-resources"
)

// The extended resources and their default unit sizes, as pkg/deviceplugin
// advertises them (a test checks they agree; importing that package would
// link gRPC and the kubelet API into the webhook).
const (
	ResourceCPU    corev1.ResourceName = "bigbox.dev/cpu"
	ResourceMemory corev1.ResourceName = "bigbox.dev/memory"

	DefaultCPUUnitMillicores = 100
	DefaultMemoryUnitBytes   = 64 << 20
)

const (
	maxCPUUnitMillicores = 1_000_000 // as internal/config accepts
	maxMemoryUnitBytes   = 1 << 40   // 1Ti, as internal/config accepts
	hugePagesPrefix      = corev1.ResourceHugePagesPrefix
)

// Options is the conversion policy.
type Options struct {
	// CPUUnitMillicores is what one bigbox.dev/cpu device stands for.
	CPUUnitMillicores int64
	// MemoryUnitBytes is what one bigbox.dev/memory device stands for.
	MemoryUnitBytes int64
	// AllowedNamespaces, when not empty, are the only namespaces whose
	// labelled pods are converted; a labelled pod elsewhere is denied.
	AllowedNamespaces []string
	// ForbiddenResourcePrefixes deny a labelled pod whose containers ask for
	// a resource whose name starts with one of them (e.g. "nvidia.com/").
	ForbiddenResourcePrefixes []string
}

// DefaultOptions are the unit sizes of PRODUCT.md, every namespace allowed
// and no resource forbidden.
func DefaultOptions() Options {
	return Options{
		CPUUnitMillicores: DefaultCPUUnitMillicores,
		MemoryUnitBytes:   DefaultMemoryUnitBytes,
	}
}

// Validate reports options Mutate cannot work with.
func (o Options) Validate() error {
	var errs []error
	if o.CPUUnitMillicores <= 0 || o.CPUUnitMillicores > maxCPUUnitMillicores {
		errs = append(errs, fmt.Errorf("cpu unit %d millicores is not within 1–%d", o.CPUUnitMillicores, maxCPUUnitMillicores))
	}
	if o.MemoryUnitBytes <= 0 || o.MemoryUnitBytes > maxMemoryUnitBytes {
		errs = append(errs, fmt.Errorf("memory unit %d bytes is not within 1–%d", o.MemoryUnitBytes, int64(maxMemoryUnitBytes)))
	}
	for _, ns := range o.AllowedNamespaces {
		if ns == "" {
			errs = append(errs, errors.New("allowed namespace is empty"))
		}
	}
	for _, p := range o.ForbiddenResourcePrefixes {
		switch {
		case p == "":
			errs = append(errs, errors.New("forbidden resource prefix is empty"))
		case forbidden(p, corev1.ResourceCPU), forbidden(p, corev1.ResourceMemory),
			forbidden(p, ResourceCPU), forbidden(p, ResourceMemory):
			errs = append(errs, fmt.Errorf("forbidden resource prefix %q would forbid the resources the webhook converts or writes", p))
		}
	}
	return errors.Join(errs...)
}

func forbidden(prefix string, name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), prefix)
}

// OriginalResources is the value of AnnotationOriginalResources: the native
// cpu and memory requests and limits Mutate removed, by container name (names
// are unique across containers and init containers).
type OriginalResources map[string]ContainerResources

// ContainerResources are the removed requests and limits of one container.
type ContainerResources struct {
	Requests corev1.ResourceList `json:"requests,omitempty"`
	Limits   corev1.ResourceList `json:"limits,omitempty"`
}

// Operation is one JSON patch (RFC 6902) operation. Mutate emits only "add",
// which replaces the member when it exists and creates it when it does not.
type Operation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Mutate converts a labelled pod. It returns the JSON patch that turns pod
// into the converted pod (nil when there is nothing to change: the pod is not
// labelled, asks for no native cpu or memory, or was converted already), or a
// reason to deny the pod, naming the container and resource. err reports
// invalid options (or an encoding failure, which these types cannot have).
// pod is not modified.
//
// Per container, the cpu request (else the cpu limit) becomes
// ceil(millicores / CPUUnitMillicores) devices of bigbox.dev/cpu, as both
// request and limit since the API server requires them equal for extended
// resources; memory likewise. A container that also names bigbox.dev/cpu or
// bigbox.dev/memory gets the converted value: the native one is newer, for
// instance after another webhook added it and this one is reinvoked.
func Mutate(pod *corev1.Pod, opts Options) (patch []Operation, denyReason string, err error) {
	if err := opts.Validate(); err != nil {
		return nil, "", fmt.Errorf("invalid options: %w", err)
	}
	if pod.Labels[LabelColocation] != "true" {
		return nil, "", nil
	}
	if reasons := deny(pod, opts); len(reasons) > 0 {
		return nil, strings.Join(reasons, "; "), nil
	}

	originals := OriginalResources{}
	var reasons []string
	convertList := func(field string, containers []corev1.Container) {
		for i := range containers {
			c := &containers[i]
			res, orig, reason := convert(c.Resources, opts)
			if reason != "" {
				reasons = append(reasons, fmt.Sprintf("container %q: %s", c.Name, reason))
				continue
			}
			if orig == nil {
				continue
			}
			originals[c.Name] = *orig
			patch = append(patch, Operation{
				Op:    "add",
				Path:  fmt.Sprintf("/spec/%s/%d/resources", field, i),
				Value: res,
			})
		}
	}
	convertList("initContainers", pod.Spec.InitContainers)
	convertList("containers", pod.Spec.Containers)
	if len(reasons) > 0 {
		return nil, strings.Join(reasons, "; "), nil
	}
	if len(patch) == 0 {
		return nil, "", nil
	}

	// Merge with what an earlier invocation recorded: on reinvocation only
	// the values added since (by other webhooks) are new, and the first
	// originals must not be lost.
	merged := OriginalResources{}
	if s, ok := pod.Annotations[AnnotationOriginalResources]; ok {
		if err := json.Unmarshal([]byte(s), &merged); err != nil {
			return nil, fmt.Sprintf("annotation %s is not valid JSON (%v); remove it", AnnotationOriginalResources, err), nil
		}
		if merged == nil {
			merged = OriginalResources{}
		}
	}
	for name, o := range originals {
		m := merged[name]
		m.Requests = mergeList(m.Requests, o.Requests)
		m.Limits = mergeList(m.Limits, o.Limits)
		merged[name] = m
	}
	value, err := json.Marshal(merged)
	if err != nil {
		return nil, "", fmt.Errorf("encode annotation %s: %w", AnnotationOriginalResources, err)
	}
	if pod.Annotations == nil {
		patch = append(patch, Operation{Op: "add", Path: "/metadata/annotations",
			Value: map[string]string{AnnotationOriginalResources: string(value)}})
	} else {
		patch = append(patch, Operation{Op: "add",
			Path: "/metadata/annotations/" + escapePointer(AnnotationOriginalResources), Value: string(value)})
	}
	return patch, "", nil
}

// deny returns why a labelled pod cannot be converted, independent of the
// container conversion itself.
func deny(pod *corev1.Pod, opts Options) []string {
	var reasons []string
	if len(opts.AllowedNamespaces) > 0 && !slices.Contains(opts.AllowedNamespaces, pod.Namespace) {
		reasons = append(reasons, fmt.Sprintf("namespace %q may not run colocated pods (allowed: %s)",
			pod.Namespace, strings.Join(opts.AllowedNamespaces, ", ")))
	}
	// Pod-level resources are a total across containers, and extended
	// resources exist only per container, so there is nothing to convert
	// them into; left in place they would make the pod Burstable.
	if r := pod.Spec.Resources; r != nil {
		for _, name := range resourceNames(r.Requests, r.Limits) {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory || strings.HasPrefix(string(name), hugePagesPrefix) {
				reasons = append(reasons, fmt.Sprintf("pod-level resources (spec.resources) ask for %s, which cannot be converted; set requests on the containers instead", name))
			}
		}
	}
	check := func(containers []corev1.Container) {
		for _, c := range containers {
			for _, name := range resourceNames(c.Resources.Requests, c.Resources.Limits) {
				switch {
				// The API server rejects huge pages without native cpu or
				// memory ("HugePages require cpu or memory").
				case strings.HasPrefix(string(name), hugePagesPrefix):
					reasons = append(reasons, fmt.Sprintf("container %q asks for %s; huge pages need native cpu or memory requests, which a colocated pod cannot have", c.Name, name))
				default:
					for _, p := range opts.ForbiddenResourcePrefixes {
						if forbidden(p, name) {
							reasons = append(reasons, fmt.Sprintf("container %q asks for %s, which colocated pods may not use (forbidden prefix %q)", c.Name, name, p))
							break
						}
					}
				}
			}
		}
	}
	check(pod.Spec.InitContainers)
	check(pod.Spec.Containers)
	return reasons
}

// convert returns the converted requirements and the removed originals, nil
// when there is nothing native to convert, or a reason the values cannot be
// converted.
func convert(in corev1.ResourceRequirements, opts Options) (corev1.ResourceRequirements, *ContainerResources, string) {
	type kind struct {
		native, extended corev1.ResourceName
		unit             *inf.Dec // native base units (cores, bytes) per device
	}
	kinds := []kind{
		{corev1.ResourceCPU, ResourceCPU, inf.NewDec(opts.CPUUnitMillicores, 3)},
		{corev1.ResourceMemory, ResourceMemory, inf.NewDec(opts.MemoryUnitBytes, 0)},
	}
	out := *in.DeepCopy()
	var orig *ContainerResources
	for _, k := range kinds {
		req, hasReq := out.Requests[k.native]
		lim, hasLim := out.Limits[k.native]
		if !hasReq && !hasLim {
			continue
		}
		if orig == nil {
			orig = &ContainerResources{}
		}
		amount := lim
		if hasReq {
			orig.Requests = setResource(orig.Requests, k.native, req)
			amount = req
		}
		if hasLim {
			orig.Limits = setResource(orig.Limits, k.native, lim)
		}
		devices, reason := deviceCount(amount, k.unit)
		if reason != "" {
			return corev1.ResourceRequirements{}, nil, fmt.Sprintf("%s %s %s", k.native, amount.String(), reason)
		}
		delete(out.Requests, k.native)
		delete(out.Limits, k.native)
		delete(out.Requests, k.extended)
		delete(out.Limits, k.extended)
		if devices > 0 {
			out.Requests = setResource(out.Requests, k.extended, *resource.NewQuantity(devices, resource.DecimalSI))
			out.Limits = setResource(out.Limits, k.extended, *resource.NewQuantity(devices, resource.DecimalSI))
		}
	}
	if len(out.Requests) == 0 {
		out.Requests = nil
	}
	if len(out.Limits) == 0 {
		out.Limits = nil
	}
	return out, orig, ""
}

// maxDevices bounds a converted count far above any node (2^40 units of 64
// MiB is 64 ZiB) and keeps it an int64.
const maxDevices = 1 << 40

// deviceCount is ceil(amount / unit).
func deviceCount(amount resource.Quantity, unit *inf.Dec) (int64, string) {
	if amount.Sign() < 0 {
		return 0, "is negative"
	}
	a := amount.DeepCopy()
	n := new(inf.Dec).QuoRound(a.AsDec(), unit, 0, inf.RoundCeil)
	if !n.UnscaledBig().IsInt64() || n.UnscaledBig().Int64() > maxDevices {
		return 0, fmt.Sprintf("is more than %d devices", int64(maxDevices))
	}
	return n.UnscaledBig().Int64(), ""
}

func setResource(l corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) corev1.ResourceList {
	if l == nil {
		l = corev1.ResourceList{}
	}
	l[name] = q
	return l
}

func mergeList(dst, src corev1.ResourceList) corev1.ResourceList {
	for name, q := range src {
		dst = setResource(dst, name, q)
	}
	return dst
}

// resourceNames returns the names in both lists, sorted, so messages are
// stable.
func resourceNames(lists ...corev1.ResourceList) []corev1.ResourceName {
	seen := map[corev1.ResourceName]bool{}
	for _, l := range lists {
		for name := range l {
			seen[name] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// escapePointer escapes a JSON pointer reference token (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

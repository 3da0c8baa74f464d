package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
)

// podView is the part of a pod that Mutate reads. Decoding only this part,
// rather than a whole corev1.Pod, keeps the handler from parsing quantities
// it does not use (volume size limits, overhead, downward API divisors), and
// lets it screen the ones it does: resource.ParseQuantity spends seconds on
// "1e-9999999" and minutes on longer exponents, and anyone who can reach the
// webhook's port could send that.
type podView struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		InitContainers []containerView   `json:"initContainers"`
		Containers     []containerView   `json:"containers"`
		Resources      *requirementsView `json:"resources"`
	} `json:"spec"`
}

type containerView struct {
	Name      string           `json:"name"`
	Resources requirementsView `json:"resources"`
}

type requirementsView struct {
	Limits   map[corev1.ResourceName]quantity `json:"limits"`
	Requests map[corev1.ResourceName]quantity `json:"requests"`
	Claims   []corev1.ResourceClaim           `json:"claims"`
}

// Bounds of a quantity the handler parses: far beyond any real request (the
// API server writes canonical forms such as "1500m" or "64Mi").
const (
	maxQuantityLen = 64
	maxQuantityExp = 30
)

// quantity is a resource.Quantity screened before parsing.
type quantity struct{ resource.Quantity }

// UnmarshalJSON reads a quantity from a JSON string or number, as
// resource.Quantity does, after refusing overlong ones and large exponents.
func (q *quantity) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		q.Quantity = resource.Quantity{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%.20q is not a quantity: %w", b, err)
		}
		s = strings.TrimSpace(s)
	}
	if len(s) > maxQuantityLen {
		return fmt.Errorf("quantity %.20q… is longer than %d characters", s, maxQuantityLen)
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		if exp, err := strconv.Atoi(s[i+1:]); err == nil && (exp > maxQuantityExp || exp < -maxQuantityExp) {
			return fmt.Errorf("quantity %q has an exponent beyond ±%d", s, maxQuantityExp)
		}
	}
	v, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("quantity %q: %w", s, err)
	}
	q.Quantity = v
	return nil
}

// decodePod decodes the part of a pod Mutate reads, case-sensitively like
// the API server.
func decodePod(raw []byte) (*corev1.Pod, error) {
	var v podView
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &v); err != nil {
		return nil, err
	}
	pod := &corev1.Pod{TypeMeta: v.TypeMeta, ObjectMeta: v.Metadata}
	pod.Spec.InitContainers = containers(v.Spec.InitContainers)
	pod.Spec.Containers = containers(v.Spec.Containers)
	if v.Spec.Resources != nil {
		r := v.Spec.Resources.requirements()
		pod.Spec.Resources = &r
	}
	return pod, nil
}

func containers(views []containerView) []corev1.Container {
	if views == nil {
		return nil
	}
	out := make([]corev1.Container, len(views))
	for i, c := range views {
		out[i] = corev1.Container{Name: c.Name, Resources: c.Resources.requirements()}
	}
	return out
}

func (r requirementsView) requirements() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Limits: list(r.Limits), Requests: list(r.Requests), Claims: r.Claims}
}

func list(m map[corev1.ResourceName]quantity) corev1.ResourceList {
	if m == nil {
		return nil
	}
	l := make(corev1.ResourceList, len(m))
	for name, q := range m {
		l[name] = q.Quantity
	}
	return l
}

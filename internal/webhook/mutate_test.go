package webhook

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bigbox-dev/bigbox/pkg/deviceplugin"
)

// rl builds a ResourceList from name, quantity pairs.
func rl(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func ctr(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

// req is a converted container's resources: bigbox devices as request and
// limit, plus whatever else it keeps.
func req(requests, limits corev1.ResourceList) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: requests, Limits: limits}
}

func labelled(pod *corev1.Pod) *corev1.Pod {
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[LabelColocation] = "true"
	return pod
}

func newPod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "batch"},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

func withInit(pod *corev1.Pod, init ...corev1.Container) *corev1.Pod {
	pod.Spec.InitContainers = init
	return pod
}

func withAnnotations(pod *corev1.Pod, kv ...string) *corev1.Pod {
	pod.Annotations = map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		pod.Annotations[kv[i]] = kv[i+1]
	}
	return pod
}

// applyToPod applies patch to pod through JSON, as the API server would.
func applyToPod(t *testing.T, pod *corev1.Pod, patch []Operation) *corev1.Pod {
	t.Helper()
	doc, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := applyPatch(doc, p)
	if err != nil {
		t.Fatalf("apply patch %s: %v", p, err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode patched pod: %v", err)
	}
	return &got
}

func TestMutate(t *testing.T) {
	t.Parallel()
	const cpu, mem = "bigbox.dev/cpu", "bigbox.dev/memory"
	defaults := DefaultOptions()
	tests := []struct {
		name string
		pod  *corev1.Pod
		opts *Options // nil: defaults
		// want are the resources of every container after the patch, by
		// name; nil wants no patch.
		want           map[string]corev1.ResourceRequirements
		wantAnnotation string
		// wantDeny are substrings of the deny reason.
		wantDeny []string
	}{
		{
			name: "label absent",
			pod:  newPod(ctr("app", rl("cpu", "1"), nil)),
		},
		{
			name: "label false",
			pod: func() *corev1.Pod {
				p := newPod(ctr("app", rl("cpu", "1"), nil))
				p.Labels = map[string]string{LabelColocation: "false"}
				return p
			}(),
		},
		{
			name: "label True is not true",
			pod: func() *corev1.Pod {
				p := newPod(ctr("app", rl("cpu", "1"), nil))
				p.Labels = map[string]string{LabelColocation: "True"}
				return p
			}(),
		},
		{
			name: "unlabelled pod in a forbidden namespace with forbidden resources",
			pod:  newPod(ctr("app", rl("cpu", "1", "nvidia.com/gpu", "1"), rl("nvidia.com/gpu", "1"))),
			opts: &Options{CPUUnitMillicores: 100, MemoryUnitBytes: 64 << 20, AllowedNamespaces: []string{"other"}, ForbiddenResourcePrefixes: []string{"nvidia.com/"}},
		},
		{
			name: "labelled pod asking for nothing",
			pod:  labelled(newPod(ctr("app", nil, nil))),
		},
		{
			name:           "cpu only",
			pod:            labelled(newPod(ctr("app", rl("cpu", "250m"), rl("cpu", "500m")))),
			want:           map[string]corev1.ResourceRequirements{"app": req(rl(cpu, "3"), rl(cpu, "3"))},
			wantAnnotation: `{"app":{"requests":{"cpu":"250m"},"limits":{"cpu":"500m"}}}`,
		},
		{
			name:           "memory only",
			pod:            labelled(newPod(ctr("app", rl("memory", "100Mi"), rl("memory", "200Mi")))),
			want:           map[string]corev1.ResourceRequirements{"app": req(rl(mem, "2"), rl(mem, "2"))},
			wantAnnotation: `{"app":{"requests":{"memory":"100Mi"},"limits":{"memory":"200Mi"}}}`,
		},
		{
			name: "cpu and memory",
			pod:  labelled(newPod(ctr("app", rl("cpu", "2", "memory", "1Gi"), rl("cpu", "4", "memory", "2Gi")))),
			want: map[string]corev1.ResourceRequirements{
				"app": req(rl(cpu, "20", mem, "16"), rl(cpu, "20", mem, "16")),
			},
			wantAnnotation: `{"app":{"requests":{"cpu":"2","memory":"1Gi"},"limits":{"cpu":"4","memory":"2Gi"}}}`,
		},
		{
			name:           "requests without limits",
			pod:            labelled(newPod(ctr("app", rl("cpu", "300m", "memory", "128Mi"), nil))),
			want:           map[string]corev1.ResourceRequirements{"app": req(rl(cpu, "3", mem, "2"), rl(cpu, "3", mem, "2"))},
			wantAnnotation: `{"app":{"requests":{"cpu":"300m","memory":"128Mi"}}}`,
		},
		{
			name:           "limits without requests use the limits",
			pod:            labelled(newPod(ctr("app", nil, rl("cpu", "1", "memory", "64Mi")))),
			want:           map[string]corev1.ResourceRequirements{"app": req(rl(cpu, "10", mem, "1"), rl(cpu, "10", mem, "1"))},
			wantAnnotation: `{"app":{"limits":{"cpu":"1","memory":"64Mi"}}}`,
		},
		{
			name:           "cpu request, memory limit",
			pod:            labelled(newPod(ctr("app", rl("cpu", "100m"), rl("memory", "640Mi")))),
			want:           map[string]corev1.ResourceRequirements{"app": req(rl(cpu, "1", mem, "10"), rl(cpu, "1", mem, "10"))},
			wantAnnotation: `{"app":{"requests":{"cpu":"100m"},"limits":{"memory":"640Mi"}}}`,
		},
		{
			name: "init containers and containers",
			pod: withInit(labelled(newPod(ctr("app", rl("cpu", "500m"), nil), ctr("sidecar", nil, nil))),
				ctr("setup", rl("cpu", "150m", "memory", "10Mi"), nil)),
			want: map[string]corev1.ResourceRequirements{
				"setup":   req(rl(cpu, "2", mem, "1"), rl(cpu, "2", mem, "1")),
				"app":     req(rl(cpu, "5"), rl(cpu, "5")),
				"sidecar": {},
			},
			wantAnnotation: `{"app":{"requests":{"cpu":"500m"}},"setup":{"requests":{"cpu":"150m","memory":"10Mi"}}}`,
		},
		{
			name: "rounding up",
			pod: labelled(newPod(
				ctr("a", rl("cpu", "101m", "memory", "67108865"), nil),
				ctr("b", rl("cpu", "1m", "memory", "1"), nil),
				ctr("c", rl("cpu", "100m", "memory", "64Mi"), nil),
				ctr("d", rl("cpu", "1n", "memory", "100m"), nil),
			)),
			want: map[string]corev1.ResourceRequirements{
				"a": req(rl(cpu, "2", mem, "2"), rl(cpu, "2", mem, "2")),
				"b": req(rl(cpu, "1", mem, "1"), rl(cpu, "1", mem, "1")),
				"c": req(rl(cpu, "1", mem, "1"), rl(cpu, "1", mem, "1")),
				"d": req(rl(cpu, "1", mem, "1"), rl(cpu, "1", mem, "1")),
			},
			wantAnnotation: `{"a":{"requests":{"cpu":"101m","memory":"67108865"}},"b":{"requests":{"cpu":"1m","memory":"1"}},` +
				`"c":{"requests":{"cpu":"100m","memory":"64Mi"}},"d":{"requests":{"cpu":"1n","memory":"100m"}}}`,
		},
		{
			name:           "zero request gets no devices",
			pod:            labelled(newPod(ctr("app", rl("cpu", "0"), rl("cpu", "2")))),
			want:           map[string]corev1.ResourceRequirements{"app": {}},
			wantAnnotation: `{"app":{"requests":{"cpu":"0"},"limits":{"cpu":"2"}}}`,
		},
		{
			name: "units from options",
			pod:  labelled(newPod(ctr("app", rl("cpu", "600m", "memory", "300Mi"), nil))),
			opts: &Options{CPUUnitMillicores: 250, MemoryUnitBytes: 128 << 20},
			want: map[string]corev1.ResourceRequirements{
				"app": req(rl(cpu, "3", mem, "3"), rl(cpu, "3", mem, "3")),
			},
			wantAnnotation: `{"app":{"requests":{"cpu":"600m","memory":"300Mi"}}}`,
		},
		{
			name: "other resources are kept",
			pod: labelled(newPod(ctr("app",
				rl("cpu", "1", "ephemeral-storage", "1Gi", "example.com/foo", "2"),
				rl("ephemeral-storage", "2Gi", "example.com/foo", "2")))),
			want: map[string]corev1.ResourceRequirements{
				"app": req(rl(cpu, "10", "ephemeral-storage", "1Gi", "example.com/foo", "2"),
					rl(cpu, "10", "ephemeral-storage", "2Gi", "example.com/foo", "2")),
			},
			wantAnnotation: `{"app":{"requests":{"cpu":"1"}}}`,
		},
		{
			name: "resource claims are kept",
			pod: func() *corev1.Pod {
				p := labelled(newPod(ctr("app", rl("cpu", "1"), nil)))
				p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
				return p
			}(),
			want: map[string]corev1.ResourceRequirements{
				"app": {Requests: rl(cpu, "10"), Limits: rl(cpu, "10"), Claims: []corev1.ResourceClaim{{Name: "gpu"}}},
			},
			wantAnnotation: `{"app":{"requests":{"cpu":"1"}}}`,
		},
		{
			name:           "existing annotations are kept",
			pod:            withAnnotations(labelled(newPod(ctr("app", rl("cpu", "1"), nil))), "team", "video"),
			want:           map[string]corev1.ResourceRequirements{"app": req(rl(cpu, "10"), rl(cpu, "10"))},
			wantAnnotation: `{"app":{"requests":{"cpu":"1"}}}`,
		},
		{
			name: "already converted",
			pod: withAnnotations(labelled(newPod(ctr("app", rl(cpu, "10"), rl(cpu, "10")))),
				AnnotationOriginalResources, `{"app":{"requests":{"cpu":"1"}}}`),
		},
		{
			name: "asks for bigbox resources directly",
			pod:  labelled(newPod(ctr("app", rl(cpu, "4", mem, "2"), rl(cpu, "4", mem, "2")))),
		},
		{
			name: "native value replaces a bigbox value",
			pod:  labelled(newPod(ctr("app", rl("cpu", "1", cpu, "4", mem, "2"), rl(cpu, "4", mem, "2")))),
			want: map[string]corev1.ResourceRequirements{
				"app": req(rl(cpu, "10", mem, "2"), rl(cpu, "10", mem, "2")),
			},
			wantAnnotation: `{"app":{"requests":{"cpu":"1"}}}`,
		},
		{
			name: "reinvocation merges with the recorded originals",
			pod: withAnnotations(labelled(newPod(
				ctr("app", rl(cpu, "10", "memory", "1Gi"), rl(cpu, "10")),
				ctr("injected", rl("cpu", "50m"), nil),
			)), AnnotationOriginalResources, `{"app":{"requests":{"cpu":"1"}}}`),
			want: map[string]corev1.ResourceRequirements{
				"app":      req(rl(cpu, "10", mem, "16"), rl(cpu, "10", mem, "16")),
				"injected": req(rl(cpu, "1"), rl(cpu, "1")),
			},
			wantAnnotation: `{"app":{"requests":{"cpu":"1","memory":"1Gi"}},"injected":{"requests":{"cpu":"50m"}}}`,
		},
		{
			name: "allowed namespace",
			pod:  labelled(newPod(ctr("app", rl("cpu", "1"), nil))),
			opts: &Options{CPUUnitMillicores: 100, MemoryUnitBytes: 64 << 20, AllowedNamespaces: []string{"web", "batch"}},
			want: map[string]corev1.ResourceRequirements{
				"app": req(rl(cpu, "10"), rl(cpu, "10")),
			},
			wantAnnotation: `{"app":{"requests":{"cpu":"1"}}}`,
		},
		{
			name:     "namespace not allowed",
			pod:      labelled(newPod(ctr("app", rl("cpu", "1"), nil))),
			opts:     &Options{CPUUnitMillicores: 100, MemoryUnitBytes: 64 << 20, AllowedNamespaces: []string{"web", "spark"}},
			wantDeny: []string{`namespace "batch"`, "web, spark"},
		},
		{
			name:     "namespace not allowed even without resources",
			pod:      labelled(newPod(ctr("app", nil, nil))),
			opts:     &Options{CPUUnitMillicores: 100, MemoryUnitBytes: 64 << 20, AllowedNamespaces: []string{"web"}},
			wantDeny: []string{`namespace "batch"`},
		},
		{
			name: "forbidden extended resource",
			pod: withInit(labelled(newPod(ctr("train", rl("cpu", "1", "nvidia.com/gpu", "1"), rl("nvidia.com/gpu", "1")))),
				ctr("fetch", nil, rl("example.com/nic", "1"))),
			opts: &Options{CPUUnitMillicores: 100, MemoryUnitBytes: 64 << 20, ForbiddenResourcePrefixes: []string{"example.com/", "nvidia.com/"}},
			wantDeny: []string{`container "train" asks for nvidia.com/gpu`, `forbidden prefix "nvidia.com/"`,
				`container "fetch" asks for example.com/nic`},
		},
		{
			name: "extended resource not forbidden by default",
			pod:  labelled(newPod(ctr("train", rl("cpu", "1", "nvidia.com/gpu", "1"), rl("nvidia.com/gpu", "1")))),
			want: map[string]corev1.ResourceRequirements{
				"train": req(rl(cpu, "10", "nvidia.com/gpu", "1"), rl(cpu, "10", "nvidia.com/gpu", "1")),
			},
			wantAnnotation: `{"train":{"requests":{"cpu":"1"}}}`,
		},
		{
			name:     "huge pages",
			pod:      labelled(newPod(ctr("db", rl("memory", "1Gi", "hugepages-2Mi", "1Gi"), rl("memory", "1Gi", "hugepages-2Mi", "1Gi")))),
			wantDeny: []string{`container "db" asks for hugepages-2Mi`},
		},
		{
			name: "pod-level resources",
			pod: func() *corev1.Pod {
				p := labelled(newPod(ctr("app", nil, nil)))
				p.Spec.Resources = &corev1.ResourceRequirements{Requests: rl("cpu", "1"), Limits: rl("memory", "1Gi")}
				return p
			}(),
			wantDeny: []string{"spec.resources", "cpu", "memory"},
		},
		{
			name:     "negative quantity",
			pod:      labelled(newPod(ctr("app", rl("cpu", "-1"), nil))),
			wantDeny: []string{`container "app": cpu -1 is negative`},
		},
		{
			name:     "absurd quantity",
			pod:      labelled(newPod(ctr("app", rl("memory", "1e30"), nil))),
			wantDeny: []string{`container "app": memory 1e30 is more than`},
		},
		{
			name: "invalid annotation",
			pod: withAnnotations(labelled(newPod(ctr("app", rl("cpu", "1"), nil))),
				AnnotationOriginalResources, `{"app":`),
			wantDeny: []string{AnnotationOriginalResources, "not valid JSON"},
		},
		{
			name: "invalid annotation ignored when nothing to convert",
			pod: withAnnotations(labelled(newPod(ctr("app", rl(cpu, "1"), rl(cpu, "1")))),
				AnnotationOriginalResources, `garbage`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := defaults
			if tt.opts != nil {
				opts = *tt.opts
			}
			before := tt.pod.DeepCopy()
			patch, deny, err := Mutate(tt.pod, opts)
			if err != nil {
				t.Fatalf("Mutate: %v", err)
			}
			if !equality.Semantic.DeepEqual(before, tt.pod) {
				t.Errorf("Mutate modified its input")
			}
			if len(tt.wantDeny) > 0 {
				if deny == "" || patch != nil {
					t.Fatalf("Mutate = %v, %q; want a denial", patch, deny)
				}
				for _, s := range tt.wantDeny {
					if !strings.Contains(deny, s) {
						t.Errorf("deny reason %q does not contain %q", deny, s)
					}
				}
				return
			}
			if deny != "" {
				t.Fatalf("Mutate denied: %s", deny)
			}
			if tt.want == nil {
				if patch != nil {
					t.Fatalf("Mutate = %+v, want no patch", patch)
				}
				return
			}
			got := applyToPod(t, tt.pod, patch)
			for _, c := range append(got.Spec.InitContainers, got.Spec.Containers...) {
				want, ok := tt.want[c.Name]
				if !ok {
					t.Errorf("container %q not in want", c.Name)
					continue
				}
				if !equality.Semantic.DeepEqual(c.Resources, want) {
					t.Errorf("container %q resources = %+v, want %+v", c.Name, c.Resources, want)
				}
			}
			if a := got.Annotations[AnnotationOriginalResources]; a != tt.wantAnnotation {
				t.Errorf("annotation = %s, want %s", a, tt.wantAnnotation)
			}
			for k, v := range tt.pod.Annotations {
				if k != AnnotationOriginalResources && got.Annotations[k] != v {
					t.Errorf("annotation %s = %q, want %q kept", k, got.Annotations[k], v)
				}
			}
			// Idempotence: the converted pod needs nothing more.
			again, deny, err := Mutate(got, opts)
			if err != nil || deny != "" || again != nil {
				t.Errorf("Mutate of the converted pod = %+v, %q, %v; want no patch", again, deny, err)
			}
		})
	}
}

func TestMutateInvalidOptions(t *testing.T) {
	t.Parallel()
	pod := labelled(newPod(ctr("app", rl("cpu", "1"), nil)))
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"zero cpu unit", Options{MemoryUnitBytes: 1}, "cpu unit 0"},
		{"negative memory unit", Options{CPUUnitMillicores: 100, MemoryUnitBytes: -1}, "memory unit -1"},
		{"memory unit too large", Options{CPUUnitMillicores: 100, MemoryUnitBytes: 1<<40 + 1}, "memory unit"},
		{"empty namespace", Options{CPUUnitMillicores: 100, MemoryUnitBytes: 1, AllowedNamespaces: []string{""}}, "namespace is empty"},
		{"empty prefix", Options{CPUUnitMillicores: 100, MemoryUnitBytes: 1, ForbiddenResourcePrefixes: []string{""}}, "prefix is empty"},
		{"prefix forbids our own", Options{CPUUnitMillicores: 100, MemoryUnitBytes: 1, ForbiddenResourcePrefixes: []string{"bigbox.dev/"}}, `"bigbox.dev/"`},
		{"prefix forbids cpu", Options{CPUUnitMillicores: 100, MemoryUnitBytes: 1, ForbiddenResourcePrefixes: []string{"c"}}, `"c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			patch, deny, err := Mutate(pod, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Mutate = %v, %q, %v; want an error containing %q", patch, deny, err, tt.want)
			}
		})
	}
}

func TestMutatePatchShape(t *testing.T) {
	t.Parallel()
	// The annotation key holds a "/", escaped as ~1 in the pointer; without
	// annotations the whole map is added.
	pod := withAnnotations(labelled(newPod(ctr("app", rl("cpu", "1"), nil))), "a", "b")
	patch, _, err := Mutate(pod, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := patch[len(patch)-1].Path, "/metadata/annotations/bigbox.dev~1original-resources"; got != want {
		t.Errorf("annotation path = %s, want %s", got, want)
	}
	pod.Annotations = nil
	patch, _, err = Mutate(pod, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := patch[len(patch)-1].Path, "/metadata/annotations"; got != want {
		t.Errorf("annotation path = %s, want %s", got, want)
	}
	if got, want := patch[0].Path, "/spec/containers/0/resources"; got != want || patch[0].Op != "add" {
		t.Errorf("first op = %s %s, want add %s", patch[0].Op, got, want)
	}
}

func BenchmarkMutate(b *testing.B) {
	pod := withInit(labelled(newPod(
		ctr("app", rl("cpu", "1500m", "memory", "3Gi"), rl("cpu", "2", "memory", "4Gi")),
		ctr("sidecar", rl("cpu", "100m", "memory", "64Mi"), nil),
	)), ctr("setup", rl("cpu", "500m"), nil))
	opts := DefaultOptions()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Mutate(pod, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNamesMatchDevicePlugin(t *testing.T) {
	t.Parallel()
	if ResourceCPU != deviceplugin.CPUResourceName || ResourceMemory != deviceplugin.MemoryResourceName ||
		DefaultCPUUnitMillicores != deviceplugin.DefaultCPUUnitMillicores || DefaultMemoryUnitBytes != deviceplugin.DefaultMemoryUnitBytes {
		t.Errorf("webhook names and units %s %s %d %d differ from pkg/deviceplugin", ResourceCPU, ResourceMemory,
			DefaultCPUUnitMillicores, DefaultMemoryUnitBytes)
	}
}

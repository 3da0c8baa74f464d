package ctl

import (
	"bytes"
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/internal/config"
)

func clusterObjects() []runtime.Object {
	sidecar := corev1.ContainerRestartPolicyAlways
	return []runtime.Object{
		testNode("n2", 0, 0, map[string]string{"pool": "web"}),
		testNode("n1", 15, 32, nil),
		testPod("batch", "n1", 5, 8),
		testPod("with-init", "n1", 1, 1, func(p *corev1.Pod) {
			// Init peak 4 units of cpu against 1 (app) + 1 (sidecar).
			p.Spec.InitContainers = []corev1.Container{
				{Name: "sidecar", RestartPolicy: &sidecar, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{ResourceCPU: resource.MustParse("1")}}},
				{Name: "setup", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{ResourceCPU: resource.MustParse("3")}}},
			}
		}),
		testPod("done", "n1", 7, 7, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
		testPod("web", "n2", 0, 0),
	}
}

func TestListNodesAndWriteNodes(t *testing.T) {
	t.Parallel()
	slo, err := config.Parse([]byte("units: {cpuMilli: 100, memoryBytes: 64Mi}\nnodes:\n- selector: {matchLabels: {pool: web}}\n  enabled: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		slo  *config.NodeSLO
		used func(ctx context.Context, node string) (api.Status, error)
		want string
	}{
		{
			name: "from the API server alone",
			slo:  slo,
			want: `NODE  SWITCH    CPU CAPACITY  CPU ALLOCATABLE  CPU ALLOCATED  CPU USED  MEMORY CAPACITY  MEMORY ALLOCATABLE  MEMORY ALLOCATED  MEMORY USED  OFFLINE PODS
n1    enabled   1.50          1.50             0.90           -         2.00Gi           2.00Gi              576Mi             -            2
n2    disabled  0.00          0.00             0.00           -         0Mi              0Mi                 0Mi               -            0
`,
		},
		{
			name: "with the agents' usage, one not answering",
			used: func(_ context.Context, node string) (api.Status, error) {
				if node == "n2" {
					return api.Status{}, errors.New("connection refused")
				}
				var st api.Status
				st.CPU.Offline, st.Memory.Offline = 0.42, 300<<20
				return st, nil
			},
			want: `NODE  SWITCH  CPU CAPACITY  CPU ALLOCATABLE  CPU ALLOCATED  CPU USED  MEMORY CAPACITY  MEMORY ALLOCATABLE  MEMORY ALLOCATED  MEMORY USED  OFFLINE PODS
n1    ?       1.50          1.50             0.90           0.42      2.00Gi           2.00Gi              576Mi             300Mi        2
n2    ?       0.00          0.00             0.00           ?         0Mi              0Mi                 0Mi               ?            0
used on n2: connection refused
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client := fake.NewClientset(clusterObjects()...)
			rows, err := ListNodes(t.Context(), client, tc.slo)
			if err != nil {
				t.Fatal(err)
			}
			if tc.used != nil {
				FillUsed(t.Context(), rows, 2, tc.used)
			}
			var b bytes.Buffer
			if err := WriteNodes(&b, rows, config.Default().UnitSizes()); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("table =\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}

func TestPodRequest(t *testing.T) {
	t.Parallel()
	sidecar := corev1.ContainerRestartPolicyAlways
	req := func(v string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{ResourceCPU: resource.MustParse(v)}}
	}
	tests := []struct {
		name string
		pod  corev1.PodSpec
		want int64
	}{
		{name: "app containers add up", pod: corev1.PodSpec{Containers: []corev1.Container{{Resources: req("2")}, {Resources: req("3")}}}, want: 5},
		{name: "a limit stands for a missing request", pod: corev1.PodSpec{Containers: []corev1.Container{
			{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{ResourceCPU: resource.MustParse("4")}}}}}, want: 4},
		{name: "a larger init container wins", pod: corev1.PodSpec{InitContainers: []corev1.Container{{Resources: req("9")}},
			Containers: []corev1.Container{{Resources: req("2")}}}, want: 9},
		{name: "sidecars run beside later init containers and the app", pod: corev1.PodSpec{
			InitContainers: []corev1.Container{{Resources: req("3")}, {RestartPolicy: &sidecar, Resources: req("2")}, {Resources: req("4")}},
			Containers:     []corev1.Container{{Resources: req("1")}}}, want: 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := podRequest(&corev1.Pod{Spec: tc.pod}, ResourceCPU); got != tc.want {
				t.Errorf("podRequest = %d, want %d", got, tc.want)
			}
		})
	}
}

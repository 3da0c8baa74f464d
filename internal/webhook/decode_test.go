package webhook

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

func TestDecodePod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		want    *corev1.Pod // compared on what Mutate reads
		wantErr string
	}{
		{
			name: "what Mutate reads",
			raw: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"batch","labels":{"a":"b"},"annotations":{"c":"d"}},
				"spec":{"initContainers":[{"name":"i","image":"x","resources":{"requests":{"cpu":"100m"}}}],
				"containers":[{"name":"c","resources":{"limits":{"memory":"64Mi","nvidia.com/gpu":2},"requests":{"memory":67108864},"claims":[{"name":"g"}]}}],
				"resources":{"limits":{"cpu":"1"}}}}`,
			want: func() *corev1.Pod {
				p := newPod(corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{
					Limits: rl("memory", "64Mi", "nvidia.com/gpu", "2"), Requests: rl("memory", "64Mi"), Claims: []corev1.ResourceClaim{{Name: "g"}}}})
				p.Labels = map[string]string{"a": "b"}
				p.Annotations = map[string]string{"c": "d"}
				p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "100m")}}}
				p.Spec.Resources = &corev1.ResourceRequirements{Limits: rl("cpu", "1")}
				return p
			}(),
		},
		{
			name: "quantities elsewhere are not parsed",
			raw: `{"metadata":{"name":"p","namespace":"batch"},"spec":{"containers":[{"name":"c"}],
				"volumes":[{"name":"v","emptyDir":{"sizeLimit":"1e-999999999"}}],"overhead":{"cpu":"1e-999999999"}}}`,
			want: newPod(corev1.Container{Name: "c"}),
		},
		{
			name: "null quantity is zero",
			raw:  `{"metadata":{"name":"p","namespace":"batch"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":null}}}]}}`,
			want: newPod(ctr("c", rl("cpu", "0"), nil)),
		},
		{
			name: "exbibytes are not an exponent",
			raw:  `{"metadata":{"name":"p","namespace":"batch"},"spec":{"containers":[{"name":"c","resources":{"requests":{"memory":"1Ei","cpu":"1e3"}}}]}}`,
			want: newPod(ctr("c", rl("memory", "1Ei", "cpu", "1e3"), nil)),
		},
		{name: "tiny exponent", raw: `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1e-999999999"}}}]}}`, wantErr: "exponent beyond"},
		{name: "huge exponent as a number", raw: `{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":1E99}}}]}}`, wantErr: "exponent beyond"},
		{name: "pod-level exponent", raw: `{"spec":{"resources":{"limits":{"cpu":"1e-40"}}}}`, wantErr: "exponent beyond"},
		{name: "long mantissa", raw: `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"` + strings.Repeat("9", 1000) + `"}}}]}}`, wantErr: "longer than"},
		{name: "not a quantity", raw: `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"lots"}}}]}}`, wantErr: `quantity "lots"`},
		{name: "wrong shape", raw: `{"spec":{"containers":{"c":{}}}}`, wantErr: "cannot unmarshal"},
		{name: "case matters", raw: `{"Metadata":{"Labels":{"bigbox.dev/colocation":"true"}}}`, want: &corev1.Pod{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodePod([]byte(tt.raw))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodePod error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodePod: %v", err)
			}
			want := tt.want
			if tt.want.Name != "" {
				want = tt.want.DeepCopy()
				want.TypeMeta = got.TypeMeta
				for i := range want.Spec.Containers {
					want.Spec.Containers[i].Image = ""
				}
			}
			if !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("decodePod =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/bigbox-dev/bigbox/internal/kube"
)

const testNamespace = "bigbox-system"

func nodeSLOConfigMap(doc string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: kube.ConfigMapName, Namespace: testNamespace},
		Data:       map[string]string{kube.ConfigMapKey: doc, "README": "kept"},
	}
}

func TestSetSwitchInConfigMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		objects []runtime.Object
		s       Switch
		// conflicts is how many updates fail with a Conflict first.
		conflicts int
		want      string // the key's content after; "" with absent
		absent    bool
		created   bool
		changed   bool
		err       string
	}{
		{
			name:    "cluster-wide disable",
			objects: []runtime.Object{nodeSLOConfigMap("# ours\ncpu: {reclaimWatermarkPercent: 50}\n")},
			want:    "# ours\nenabled: false\ncpu: {reclaimWatermarkPercent: 50}\n",
			changed: true,
		},
		{
			name:    "per-node disable adds an override",
			objects: []runtime.Object{nodeSLOConfigMap("enabled: true\n")},
			s:       Switch{Host: "n1"},
			want:    "enabled: true\nnodes:\n  - selector: {matchLabels: {kubernetes.io/hostname: n1}}\n    enabled: false\n",
			changed: true,
		},
		{
			name:    "per-node enable removes the override",
			objects: []runtime.Object{nodeSLOConfigMap("nodes:\n  - selector: {matchLabels: {kubernetes.io/hostname: n1}}\n    enabled: false\n")},
			s:       Switch{Host: "n1", Enabled: true},
			want:    "{}\n",
			changed: true,
		},
		{
			name:    "a missing ConfigMap is created on disable",
			want:    "enabled: false\n",
			created: true,
			changed: true,
		},
		{
			name:   "a missing ConfigMap stays missing on enable",
			s:      Switch{Enabled: true},
			absent: true,
		},
		{
			name:    "a ConfigMap without the key is the defaults",
			objects: []runtime.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: kube.ConfigMapName, Namespace: testNamespace}}},
			want:    "enabled: false\n",
			changed: true,
		},
		{
			name:      "a conflict is retried on a fresh read",
			objects:   []runtime.Object{nodeSLOConfigMap("cpu: {reclaimWatermarkPercent: 50}\n")},
			conflicts: 1,
			want:      "enabled: false\ncpu: {reclaimWatermarkPercent: 50}\n",
			changed:   true,
		},
		{
			name:    "an invalid NodeSLO is not written",
			objects: []runtime.Object{nodeSLOConfigMap("cpu: {reclaimWatermarkPercent: 120}\n")},
			want:    "cpu: {reclaimWatermarkPercent: 120}\n",
			err:     "reclaimWatermarkPercent: 120",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client := fake.NewClientset(tc.objects...)
			updates := 0
			client.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
				updates++
				if updates <= tc.conflicts {
					return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, kube.ConfigMapName, os.ErrExist)
				}
				return false, nil, nil
			})
			res, err := SetSwitchInConfigMap(t.Context(), client, testNamespace, tc.s)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if res.Changed != tc.changed || res.Created != tc.created {
				t.Errorf("changed, created = %t, %t; want %t, %t", res.Changed, res.Created, tc.changed, tc.created)
			}
			if tc.conflicts > 0 && updates != tc.conflicts+1 {
				t.Errorf("%d updates, want %d", updates, tc.conflicts+1)
			}
			cm, err := client.CoreV1().ConfigMaps(testNamespace).Get(t.Context(), kube.ConfigMapName, metav1.GetOptions{})
			if tc.absent {
				if !apierrors.IsNotFound(err) {
					t.Errorf("ConfigMap after the switch: err = %v, want NotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cm.Data[kube.ConfigMapKey]; got != tc.want {
				t.Errorf("%s =\n%s\nwant\n%s", kube.ConfigMapKey, got, tc.want)
			}
			if len(tc.objects) > 0 && tc.objects[0].(*corev1.ConfigMap).Data != nil && cm.Data["README"] != "kept" {
				t.Errorf("other keys lost: %v", cm.Data)
			}
		})
	}
}

func TestSetSwitchInFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content *string // nil: no file
		mode    os.FileMode
		symlink bool
		s       Switch
		want    string
		changed bool
		err     string
	}{
		{name: "disable keeps the mode", content: ptr("cpu: {reclaimWatermarkPercent: 50}\n"), mode: 0o600,
			want: "enabled: false\ncpu: {reclaimWatermarkPercent: 50}\n", changed: true},
		{name: "a symbolic link is followed", content: ptr("enabled: true\n"), mode: 0o644, symlink: true,
			want: "enabled: false\n", changed: true},
		{name: "a missing file is created", want: "enabled: false\n", changed: true, mode: 0o644},
		{name: "per-node enable of an enabled node changes nothing", content: ptr("enabled: true\n"), mode: 0o644,
			s: Switch{Host: "n1", Enabled: true}, want: "enabled: true\n"},
		{name: "an invalid file is left alone", content: ptr("memory: {evictWatermarkPercent: 101}\n"), mode: 0o644,
			want: "memory: {evictWatermarkPercent: 101}\n", err: "evictWatermarkPercent: 101"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			target := filepath.Join(dir, "nodeslo.yaml")
			path := target
			if tc.content != nil {
				if err := os.WriteFile(target, []byte(*tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			if tc.symlink {
				path = filepath.Join(dir, "link.yaml")
				if err := os.Symlink("nodeslo.yaml", path); err != nil {
					t.Fatal(err)
				}
			}
			res, err := SetSwitchInFile(path, tc.s)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if res.Changed != tc.changed {
				t.Errorf("changed = %t, want %t", res.Changed, tc.changed)
			}
			got, err := os.ReadFile(target)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("file =\n%s\nwant\n%s", got, tc.want)
			}
			fi, err := os.Stat(target)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.mode {
				t.Errorf("mode = %v, want %v", fi.Mode().Perm(), tc.mode)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".tmp") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
			if tc.symlink {
				if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("the symbolic link was replaced: %v, %v", fi, err)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

package ctl

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/internal/kube"
)

func testEnv(client kubernetes.Interface, out io.Writer) Env {
	return Env{
		Stdout: out, Stderr: io.Discard, Program: "bigboxctl",
		Clock:          clocktesting.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)),
		Getenv:         func(string) string { return "" },
		Addr:           "127.0.0.1:1",
		RequestTimeout: 5 * time.Second,
		KubeClient: func(path string) (kubernetes.Interface, error) {
			if path != "" {
				return nil, errors.New("unexpected kubeconfig " + path)
			}
			return client, nil
		},
	}
}

func TestRunAgainstTheAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		objects []runtime.Object
		env     func(Env) Env
		args    []string
		// want are lines of the output, in order; doc the NodeSLO after.
		want []string
		doc  string
		err  string
	}{
		{
			name:    "disable one node without waiting",
			objects: []runtime.Object{testNode("n1", 3, 3, map[string]string{HostnameLabel: "host-1"})},
			args:    []string{"disable", "--node", "n1", "--wait=false"},
			want:    []string{"nodes[0]: host-1 disabled", "ConfigMap bigbox-system/bigbox-nodeslo created"},
			doc:     "nodes:\n  - selector: {matchLabels: {kubernetes.io/hostname: host-1}}\n    enabled: false\n",
		},
		{
			name:    "disable everything on clean nodes ends at once",
			objects: []runtime.Object{testNode("n1", 0, 0, nil), testNode("n2", 0, 0, nil), testPod("web", "n1", 0, 0)},
			env: func(e Env) Env {
				e.Getenv = func(k string) string { return map[string]string{NamespaceEnv: "ops"}[k] }
				return e
			},
			args: []string{"disable"},
			want: []string{"enabled: false", "ConfigMap ops/bigbox-nodeslo created", "waiting for 2 node(s) to be clean",
				"0s node n1: clean", "0s node n2: clean", "0s done"},
			doc: "enabled: false\n",
		},
		{
			name: "disable everything names the nodes an override keeps on",
			objects: []runtime.Object{testNode("n1", 0, 0, nil), testNode("n2", 0, 0, map[string]string{"pool": "canary"}),
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: kube.ConfigMapName, Namespace: "bigbox-system"},
					Data: map[string]string{kube.ConfigMapKey: "nodes:\n- selector: {matchLabels: {pool: canary}}\n  enabled: true\n  cpu: {reclaimWatermarkPercent: 40}\n"}}},
			args: []string{"disable", "--namespace", "bigbox-system"},
			want: []string{"nodes[0] sets enabled: true", "updated", "still enabled by a nodes override: n2", "waiting for 1 node(s)", "node n1: clean", "done"},
		},
		{
			name:    "enable a node that was never disabled",
			objects: []runtime.Object{testNode("n1", 0, 0, nil)},
			args:    []string{"enable", "--node", "n1"},
			want:    []string{"nothing to change: enable colocation on n1", "ConfigMap bigbox-system/bigbox-nodeslo unchanged"},
		},
		{
			name: "disable an unknown node",
			args: []string{"disable", "--node", "nowhere"},
			err:  `get node nowhere: nodes "nowhere" not found`,
		},
		{
			name:    "status of every node",
			objects: []runtime.Object{testNode("n1", 15, 32, nil), testPod("batch", "n1", 5, 8)},
			args:    []string{"status", "--all-nodes"},
			want:    []string{"NODE  SWITCH   CPU CAPACITY", "n1    enabled  1.50          1.50             0.50           -"},
		},
		{
			name: "an address template must name the node",
			args: []string{"status", "--all-nodes", "--addr-template", "http://agent:9560"},
			err:  "lacks {node}",
		},
		{
			name: "enable takes no --wait",
			args: []string{"enable", "--wait"},
			err:  "flag provided but not defined: -wait",
		},
		{
			name: "help",
			args: []string{"disable", "-h"},
			err:  flag.ErrHelp.Error(),
		},
		{
			name: "unknown command",
			args: []string{"lend"},
			err:  `unknown command "lend"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client := fake.NewClientset(tc.objects...)
			var out bytes.Buffer
			env := testEnv(client, &out)
			if tc.env != nil {
				env = tc.env(env)
			}
			err := Run(t.Context(), tc.args[0], tc.args[1:], env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Run err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
			}
			rest := out.String()
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q after what came before:\n%s", w, out.String())
				}
				rest = rest[i+len(w):]
			}
			if tc.doc != "" {
				ns := env.namespace()
				cm, err := client.CoreV1().ConfigMaps(ns).Get(t.Context(), kube.ConfigMapName, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got := cm.Data[kube.ConfigMapKey]; got != tc.doc {
					t.Errorf("NodeSLO =\n%s\nwant\n%s", got, tc.doc)
				}
			}
		})
	}
}

// TestRunStandalone edits a NodeSLO file and follows the agent until its
// status is clean.
func TestRunStandalone(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(t, w, api.Status{Node: "box", Enabled: false})
	}))
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "nodeslo.yaml")
	if err := os.WriteFile(path, []byte("# standalone\ncpu: {reclaimWatermarkPercent: 50}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "disable follows the agent", args: []string{"disable", "--config", path, "--addr", srv.URL},
			want: "enabled: false\n" + path + " updated\n    0s agent box: clean (colocation disabled, no offline pod, nothing lent)\n    0s done\n"},
		{name: "disable without --addr does not wait", args: []string{"disable", "--config", path},
			want: "nothing to change: disable colocation cluster-wide is in force already\n" + path + " unchanged\nnot waiting: give --addr to follow the standalone agent until it is clean\n"},
	}
	for _, tc := range tests { // in order: the second sees the first's file
		var out bytes.Buffer
		if err := Run(t.Context(), tc.args[0], tc.args[1:], testEnv(nil, &out)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if out.String() != tc.want {
			t.Errorf("%s: output =\n%s\nwant\n%s", tc.name, out.String(), tc.want)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# standalone\nenabled: false\ncpu: {reclaimWatermarkPercent: 50}\n"; string(got) != want {
		t.Errorf("file =\n%s\nwant\n%s", got, want)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct{ program, want string }{
		{"bigboxctl", "usage: bigboxctl [--addr"},
		{"kubectl-bigbox", "usage: kubectl bigbox [--addr"},
		{"kubectl-bigbox.exe", "(kubectl bigbox simulate -h)"},
	}
	for _, tc := range tests {
		if got := Usage(tc.program); !strings.Contains(got, tc.want) {
			t.Errorf("Usage(%q) lacks %q:\n%s", tc.program, tc.want, got)
		}
	}
}

package kube

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bigbox-dev/bigbox/internal/config"
)

const (
	testNamespace = "bigbox-system"
	sloCPU60      = "cpu:\n  reclaimWatermarkPercent: 60\n"
	sloCPU75      = "cpu:\n  reclaimWatermarkPercent: 75\n"
	sloBad        = "cpu:\n  reclaimWatermarkPercent: 120\n"
)

func configMap(rv string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: ConfigMapName, UID: "uid-cm", ResourceVersion: rv},
		Data:       data,
	}
}

type configMapEnv struct {
	src    *ConfigMapSource
	client *fake.Clientset
	reg    *prometheus.Registry
}

// startConfigMap runs a ConfigMapSource (and a Recorder) on a fake clientset
// holding objs and waits for the first sync.
func startConfigMap(t *testing.T, objs ...runtime.Object) configMapEnv {
	t.Helper()
	client := fake.NewClientset(objs...)
	reg := prometheus.NewRegistry()
	rec := NewRecorder(client, testNode, testLogger(t))
	src, err := NewConfigMapSource(client, testNamespace, ConfigMapName, ConfigMapKey, rec, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	runInBackground(t, rec.Run)
	runInBackground(t, src.Run)
	waitSynced(t, src.HasSynced)
	return configMapEnv{src: src, client: client, reg: reg}
}

func (e configMapEnv) update(t *testing.T, cm *corev1.ConfigMap) {
	t.Helper()
	if _, err := e.client.CoreV1().ConfigMaps(testNamespace).Update(waitCtx(t), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update configmap: %v", err)
	}
}

func reclaimCPU(n *config.NodeSLO) float64 { return *n.CPU.ReclaimWatermarkPercent }

func errorsTotal(t *testing.T, reg *prometheus.Registry, want string) {
	t.Helper()
	exp := "# HELP bigbox_config_errors_total NodeSLO versions rejected (unreadable or invalid); the last good version stays in force.\n" +
		"# TYPE bigbox_config_errors_total counter\n" +
		"bigbox_config_errors_total " + want + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "bigbox_config_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestConfigMapSourceLifecycle(t *testing.T) {
	t.Parallel()
	e := startConfigMap(t, configMap("11", map[string]string{ConfigMapKey: sloCPU60}))
	events := eventWatch(t, e.client)
	src := e.src

	// Valid at start: in force.
	receive(t, src.Changes(), "change for the first version")
	if got := reclaimCPU(src.Current()); got != 60 {
		t.Fatalf("reclaim watermark %v, want 60", got)
	}
	if got, want := src.Version(), config.Version([]byte(sloCPU60))+"@11"; got != want {
		t.Errorf("Version = %q, want %q", got, want)
	}
	if err := src.LastError(); err != nil {
		t.Errorf("LastError = %v, want nil", err)
	}

	// Invalid update: rejected, last good kept, Event and metric.
	e.update(t, configMap("12", map[string]string{ConfigMapKey: sloBad}))
	receive(t, src.Changes(), "change for the rejection")
	if got := reclaimCPU(src.Current()); got != 60 {
		t.Errorf("after a bad version the reclaim watermark is %v, want the last good 60", got)
	}
	if err := src.LastError(); err == nil || !strings.Contains(err.Error(), "cpu.reclaimWatermarkPercent") {
		t.Errorf("LastError = %v, want the validation error naming cpu.reclaimWatermarkPercent", err)
	}
	if got, want := src.Version(), config.Version([]byte(sloCPU60))+"@11"; got != want {
		t.Errorf("Version after rejection = %q, want the good %q", got, want)
	}
	ev := nextEvents(t, events, 1)[0]
	if ev.Reason != ReasonConfigRejected || ev.Type != corev1.EventTypeWarning ||
		ev.InvolvedObject.Kind != "ConfigMap" || ev.InvolvedObject.Name != ConfigMapName ||
		ev.InvolvedObject.Namespace != testNamespace || ev.Namespace != testNamespace ||
		!strings.Contains(ev.Message, "cpu.reclaimWatermarkPercent") {
		t.Errorf("event %+v, want a Warning %s on the ConfigMap naming the field", ev, ReasonConfigRejected)
	}
	errorsTotal(t, e.reg, "1")

	// The same bad content again (a metadata change): not counted again,
	// no change signalled; the next signal is the good version's.
	bad := configMap("13", map[string]string{ConfigMapKey: sloBad})
	bad.Annotations = map[string]string{"touched": "yes"}
	e.update(t, bad)
	e.update(t, configMap("14", map[string]string{ConfigMapKey: sloCPU75}))
	receive(t, src.Changes(), "change for the new good version")
	if got := reclaimCPU(src.Current()); got != 75 {
		t.Errorf("reclaim watermark %v, want 75", got)
	}
	if err := src.LastError(); err != nil {
		t.Errorf("LastError = %v after a good version, want nil", err)
	}
	if got, want := src.Version(), config.Version([]byte(sloCPU75))+"@14"; got != want {
		t.Errorf("Version = %q, want %q", got, want)
	}
	errorsTotal(t, e.reg, "1")

	// Deleted: the defaults.
	if err := e.client.CoreV1().ConfigMaps(testNamespace).Delete(waitCtx(t), ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	receive(t, src.Changes(), "change for the deletion")
	if got, want := src.Version(), config.Default().Version(); got != want {
		t.Errorf("Version after delete = %q, want the defaults' %q", got, want)
	}
	if got := reclaimCPU(src.Current()); got != reclaimCPU(config.Default()) {
		t.Errorf("reclaim watermark %v after delete, want the default %v", got, reclaimCPU(config.Default()))
	}
	exp := "# HELP bigbox_config_version_info Content hash of the NodeSLO in force (always 1).\n" +
		"# TYPE bigbox_config_version_info gauge\n" +
		"bigbox_config_version_info{version=\"" + config.Default().Version() + "\"} 1\n"
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(exp), "bigbox_config_version_info"); err != nil {
		t.Error(err)
	}
}

func TestConfigMapSourceStart(t *testing.T) {
	t.Parallel()
	decoy := configMap("5", map[string]string{ConfigMapKey: sloBad})
	decoy.Name = "not-ours"
	binary := configMap("6", nil)
	binary.BinaryData = map[string][]byte{ConfigMapKey: []byte(sloCPU75)}
	tests := []struct {
		name string
		objs []runtime.Object
		// wantReclaim is the reclaim watermark in force, wantErr a part of
		// LastError ("" for nil), wantErrors the metric.
		wantReclaim float64
		wantErr     string
		wantErrors  string
	}{
		{name: "missing", wantReclaim: reclaimCPU(config.Default()), wantErrors: "0"},
		{name: "other configmap ignored", objs: []runtime.Object{decoy}, wantReclaim: reclaimCPU(config.Default()), wantErrors: "0"},
		{name: "valid", objs: []runtime.Object{configMap("7", map[string]string{ConfigMapKey: sloCPU60})}, wantReclaim: 60, wantErrors: "0"},
		{name: "binary data", objs: []runtime.Object{binary}, wantReclaim: 75, wantErrors: "0"},
		{name: "empty document", objs: []runtime.Object{configMap("8", map[string]string{ConfigMapKey: ""})},
			wantReclaim: reclaimCPU(config.Default()), wantErrors: "0"},
		{name: "invalid", objs: []runtime.Object{configMap("9", map[string]string{ConfigMapKey: sloBad})},
			wantReclaim: reclaimCPU(config.Default()), wantErr: "cpu.reclaimWatermarkPercent", wantErrors: "1"},
		{name: "unknown field", objs: []runtime.Object{configMap("9", map[string]string{ConfigMapKey: "cpu:\n  reclaimWatermark: 60\n"})},
			wantReclaim: reclaimCPU(config.Default()), wantErr: "reclaimWatermark", wantErrors: "1"},
		{name: "missing key", objs: []runtime.Object{configMap("10", map[string]string{"nodeslo.yml": sloCPU60})},
			wantReclaim: reclaimCPU(config.Default()), wantErr: `no key "nodeslo.yaml"`, wantErrors: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startConfigMap(t, tc.objs...)
			if got := reclaimCPU(e.src.Current()); got != tc.wantReclaim {
				t.Errorf("reclaim watermark %v, want %v", got, tc.wantReclaim)
			}
			err := e.src.LastError()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("LastError = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("LastError = %v, want one containing %q", err, tc.wantErr)
			}
			errorsTotal(t, e.reg, tc.wantErrors)
		})
	}
}

func TestConfigMapSourceListsOneObject(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	selectors := listSelectors(client, "configmaps")
	src, err := NewConfigMapSource(client, testNamespace, ConfigMapName, ConfigMapKey, nil, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	runInBackground(t, src.Run)
	waitSynced(t, src.HasSynced)
	got := selectors()
	if len(got) == 0 || got[0] != "metadata.name="+ConfigMapName {
		t.Errorf("list field selectors %q, want metadata.name=%s", got, ConfigMapName)
	}
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "configmaps" && a.GetNamespace() != testNamespace {
			t.Errorf("%s configmaps in namespace %q, want %q only", a.GetVerb(), a.GetNamespace(), testNamespace)
		}
	}
}

func TestConfigMapSourceMetricsTwice(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	client := fake.NewClientset()
	if _, err := NewConfigMapSource(client, testNamespace, ConfigMapName, ConfigMapKey, nil, testLogger(t), reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewConfigMapSource(client, testNamespace, ConfigMapName, ConfigMapKey, nil, testLogger(t), reg); err == nil {
		t.Error("second source on the same registry: no error, want a duplicate registration error")
	}
}

//go:build integration

package chart

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bigbox-dev/bigbox/internal/config"
)

// Environment that hack/kube-up.sh prints (KUBE_UP_HELM=1 for BIGBOX_HELM).
const (
	envKubeconfig = "KUBECONFIG"
	envHelm       = "BIGBOX_HELM"
)

// allOn are values that turn on every optional part of the chart.
var allOn = []string{
	"--set", "monitoring.podMonitor.enabled=true",
	"--set", "monitoring.prometheusRule.enabled=true",
	"--set", "monitoring.dashboard.enabled=true",
	"--set", "certManager.enabled=true",
	"--set", "units.memoryBytes=134217728",
}

// helm runs the helm of hack/kube-up.sh offline, with its cache, config and
// data directories in a temporary directory, and returns stdout.
func helm(ctx context.Context, t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := os.Getenv(envHelm)
	if bin == "" {
		t.Fatalf("%s is not set: start the test cluster with KUBE_UP_HELM=1 hack/kube-up.sh (or run hack/kube/test.sh)", envHelm)
	}
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config",
		"HELM_DATA_HOME="+home+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func TestHelmLint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // empty: lint passes
	}{
		{"defaults", nil, ""},
		{"everything on", allOn, ""},
		{"privileged agent", []string{"--set", "agent.privileged=true"}, ""},
		{"service monitor, no webhook", []string{"--set", "monitoring.serviceMonitor.enabled=true", "--set", "webhook.enabled=false"}, ""},
		{"units in the NodeSLO", []string{"--set", "nodeSLO.units.cpuMilli=50"}, "units"},
		{"bad watermark type", []string{"--set", "nodeSLO.cpu.reclaimWatermarkPercent=high"}, "reclaimWatermarkPercent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := helm(t.Context(), t, append([]string{"lint", "--strict", chartDir}, tc.args...)...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Error(err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("lint passed, want an error about %q:\n%s", tc.wantErr, out)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("lint error does not mention %q: %v", tc.wantErr, err)
			}
		})
	}
}

// TestTemplateFails checks the chart's own refusals (template `fail`, which
// helm lint does not report).
func TestTemplateFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"both monitors", []string{"--set", "monitoring.podMonitor.enabled=true", "--set", "monitoring.serviceMonitor.enabled=true"}, "not both"},
		{"units in the NodeSLO", []string{"--skip-schema-validation", "--set", "nodeSLO.units.cpuMilli=50"}, "set the unit sizes in .Values.units"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := helm(t.Context(), t, append([]string{"template", "x", chartDir}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("helm template: %v, want an error about %q", err, tc.wantErr)
			}
		})
	}
}

// kube is what the tests need of the test cluster.
type kube struct {
	config  *rest.Config
	client  kubernetes.Interface
	dynamic dynamic.Interface
}

func newKube(t *testing.T) *kube {
	t.Helper()
	path := os.Getenv(envKubeconfig)
	if path == "" {
		t.Fatalf("%s is not set: start the test cluster with eval \"$(KUBE_UP_HELM=1 hack/kube-up.sh)\"", envKubeconfig)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("load kubeconfig %s: %v", path, err)
	}
	cfg.Timeout = 15 * time.Second
	k := &kube{config: cfg}
	if k.client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if k.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return k
}

// decodeManifests splits helm's output into objects.
func decodeManifests(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	dec := k8syaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decode manifests: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	return objs
}

// stubCRDs stand in for the Prometheus Operator's and cert-manager's CRDs:
// same groups, versions, kinds and scope, any spec. They let the API server
// take the opt-in objects; it cannot check their specs.
var stubCRDs = []struct{ group, kind, plural string }{
	{"monitoring.coreos.com", "PodMonitor", "podmonitors"},
	{"monitoring.coreos.com", "ServiceMonitor", "servicemonitors"},
	{"monitoring.coreos.com", "PrometheusRule", "prometheusrules"},
	{"cert-manager.io", "Certificate", "certificates"},
	{"cert-manager.io", "Issuer", "issuers"},
}

// installStubCRDs creates the stub CRDs that do not exist yet, waits until
// they are served, and removes them in t.Cleanup.
func installStubCRDs(t *testing.T, k *kube) {
	t.Helper()
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, c := range stubCRDs {
		name := c.plural + "." + c.group
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": name, "labels": map[string]any{"bigbox.dev/test": "chart-stub"}},
			"spec": map[string]any{
				"group": c.group,
				"scope": "Namespaced",
				"names": map[string]any{"kind": c.kind, "plural": c.plural, "singular": strings.ToLower(c.kind), "listKind": c.kind + "List"},
				"versions": []any{map[string]any{
					"name": "v1", "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type": "object", "x-kubernetes-preserve-unknown-fields": true,
					}},
				}},
			},
		}}
		_, err := k.dynamic.Resource(crdGVR).Create(t.Context(), crd, metav1.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err):
			continue // a real one, or a stub of a parallel run: leave it
		case err != nil:
			t.Fatalf("create CRD %s: %v", name, err)
		}
		t.Cleanup(func() {
			err := k.dynamic.Resource(crdGVR).Delete(context.Background(), name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete CRD %s: %v", name, err)
			}
		})
		err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := k.dynamic.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("CRD %s not established: %v", name, err)
		}
	}
}

// TestTemplateServerDryRun renders the chart and sends every object to the
// real API server as a server-side apply with dryRun=All: the API server
// checks each against its schema, defaults and validation, and stores nothing.
func TestTemplateServerDryRun(t *testing.T) {
	k := newKube(t)
	installStubCRDs(t, k)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(k.client.Discovery()))
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"defaults", nil},
		{"everything on", allOn},
		{"service monitor, issuer, no state dir", []string{
			"--set", "monitoring.serviceMonitor.enabled=true", "--set", "monitoring.prometheusRule.enabled=true",
			"--set", "certManager.enabled=true", "--set", "certManager.issuerRef.name=ca", "--set", "certManager.issuerRef.kind=ClusterIssuer",
			"--set", "agent.hostPaths.stateDir=", "--set", "webhook.replicas=1", "--set", "agent.kubepodsCgroup=kubepods.slice",
		}},
		{"no webhook", []string{"--set", "webhook.enabled=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helm(t.Context(), t, append([]string{"template", "dryrun", chartDir, "--namespace", "default"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			objs := decodeManifests(t, out)
			if len(objs) < 8 {
				t.Fatalf("only %d objects rendered", len(objs))
			}
			for _, o := range objs {
				gvk := o.GroupVersionKind()
				m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Errorf("%s %s: the API server does not serve it: %v", gvk, o.GetName(), err)
					continue
				}
				var ri dynamic.ResourceInterface = k.dynamic.Resource(m.Resource)
				if m.Scope.Name() == meta.RESTScopeNameNamespace {
					if o.GetNamespace() != "default" {
						t.Errorf("%s %s: namespace %q, want the release namespace", gvk.Kind, o.GetName(), o.GetNamespace())
					}
					ri = k.dynamic.Resource(m.Resource).Namespace("default")
				} else if o.GetNamespace() != "" {
					t.Errorf("%s %s: cluster-scoped with a namespace", gvk.Kind, o.GetName())
				}
				_, err = ri.Apply(t.Context(), o.GetName(), o, metav1.ApplyOptions{FieldManager: "bigbox-chart-test", DryRun: []string{metav1.DryRunAll}, Force: true})
				if err != nil {
					t.Errorf("server-side dry run of %s %s: %v", gvk.Kind, o.GetName(), err)
				}
			}
		})
	}
}

// TestInstall installs the chart into a new namespace, checks the objects
// the API server holds, the RBAC it grants (SubjectAccessReview), that an
// upgrade keeps the webhook's certificates and updates the NodeSLO, and
// that uninstall removes the cluster-scoped objects. The test cluster runs
// no controller-manager, so the DaemonSet and Deployment make no pods, and
// the namespace stays Terminating after the test until hack/kube-down.sh.
func TestInstall(t *testing.T) {
	k := newKube(t)
	ctx := t.Context()
	ns := "bigbox-chart-" + utilrand.String(5)
	const release = "bigbox"
	if _, err := helm(t.Context(), t, "install", release, chartDir, "--namespace", ns, "--create-namespace", "--set", "units.cpuMillicores=250"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := helm(context.Background(), t, "uninstall", release, "--namespace", ns); err != nil && !strings.Contains(err.Error(), "not found") {
			t.Errorf("cleanup: %v", err)
		}
		if err := k.client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: delete namespace %s: %v", ns, err)
		}
	})

	t.Run("agent", func(t *testing.T) {
		ds, err := k.client.AppsV1().DaemonSets(ns).Get(ctx, "bigbox-agent", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		spec := ds.Spec.Template.Spec
		if !spec.HostPID || spec.HostNetwork || spec.ServiceAccountName != "bigbox-agent" {
			t.Errorf("hostPID %v, hostNetwork %v, serviceAccount %q: want true, false, bigbox-agent", spec.HostPID, spec.HostNetwork, spec.ServiceAccountName)
		}
		c := spec.Containers[0]
		for _, want := range []string{"--node-name=$(NODE_NAME)", "--namespace=$(POD_NAMESPACE)", "--cgroup-root=/host/sys/fs/cgroup",
			"--device-plugin-dir=/var/lib/kubelet/device-plugins", "--pod-resources-socket=/var/lib/kubelet/pod-resources/kubelet.sock"} {
			if !slices.Contains(c.Args, want) {
				t.Errorf("agent args %v lack %s", c.Args, want)
			}
		}
		sc := c.SecurityContext
		if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.Capabilities == nil ||
			!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
			!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"DAC_OVERRIDE", "KILL"}) {
			t.Errorf("agent security context %+v: want unprivileged, drop ALL, add DAC_OVERRIDE and KILL", sc)
		}
		mounts := map[string]corev1.VolumeMount{}
		for _, m := range c.VolumeMounts {
			mounts[m.Name] = m
		}
		for name, readOnly := range map[string]bool{"cgroup": false, "device-plugins": false, "pod-resources": true, "state": false} {
			m, ok := mounts[name]
			if !ok || m.ReadOnly != readOnly {
				t.Errorf("volume mount %s: %+v (present %v), want readOnly %v", name, m, ok, readOnly)
			}
		}
		if got := ds.Spec.Template.Annotations["bigbox.dev/units"]; got != "250m,64Mi" {
			t.Errorf("units annotation %q, want 250m,64Mi", got)
		}
	})

	t.Run("nodeslo", func(t *testing.T) {
		cm, err := k.client.CoreV1().ConfigMaps(ns).Get(ctx, "bigbox-nodeslo", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n, err := config.Parse([]byte(cm.Data["nodeslo.yaml"]))
		if err != nil {
			t.Fatalf("the agent rejects the installed NodeSLO: %v\n%s", err, cm.Data["nodeslo.yaml"])
		}
		if u := n.UnitSizes(); u.CPUMilli != 250 || u.MemoryBytes != 64<<20 {
			t.Errorf("NodeSLO units %+v, want 250 millicores and 64Mi", u)
		}
	})

	var caBundle []byte
	t.Run("webhook", func(t *testing.T) {
		dep, err := k.client.AppsV1().Deployments(ns).Get(ctx, "bigbox-webhook", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		args := dep.Spec.Template.Spec.Containers[0].Args
		for _, want := range []string{"--cpu-unit-millicores=250", "--memory-unit-bytes=64Mi", "--listen=:9443"} {
			if !slices.Contains(args, want) {
				t.Errorf("webhook args %v lack %s", args, want)
			}
		}
		if _, err := k.client.CoreV1().Services(ns).Get(ctx, "bigbox-webhook", metav1.GetOptions{}); err != nil {
			t.Error(err)
		}
		mwc, err := k.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "bigbox-webhook", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w := mwc.Webhooks[0]
		if w.ClientConfig.Service == nil || w.ClientConfig.Service.Namespace != ns || *w.ClientConfig.Service.Path != "/mutate" {
			t.Errorf("clientConfig.service %+v", w.ClientConfig.Service)
		}
		if w.FailurePolicy == nil || *w.FailurePolicy != "Fail" || w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != "IfNeeded" {
			t.Errorf("failurePolicy %v, reinvocationPolicy %v: want Fail, IfNeeded (docs/webhook.md)", w.FailurePolicy, w.ReinvocationPolicy)
		}
		if w.ObjectSelector == nil || w.ObjectSelector.MatchLabels["bigbox.dev/colocation"] != "true" {
			t.Errorf("objectSelector %+v: want bigbox.dev/colocation=true", w.ObjectSelector)
		}
		secret, err := k.client.CoreV1().Secrets(ns).Get(ctx, "bigbox-webhook-tls", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		caBundle = w.ClientConfig.CABundle
		if !bytes.Equal(caBundle, secret.Data["ca.crt"]) {
			t.Error("the webhook's caBundle is not the Secret's ca.crt")
		}
		verifyServing(t, caBundle, secret.Data["tls.crt"], "bigbox-webhook."+ns+".svc")
	})

	t.Run("rbac", func(t *testing.T) {
		agent := "system:serviceaccount:" + ns + ":bigbox-agent"
		webhook := "system:serviceaccount:" + ns + ":bigbox-webhook"
		for _, tc := range []struct {
			user string
			attr authorizationv1.ResourceAttributes
			want bool
		}{
			{agent, authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods"}, true},
			{agent, authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Namespace: "default", Name: "any"}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "watch", Resource: "pods", Namespace: "default"}, true},
			{agent, authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods", Subresource: "eviction", Namespace: "default"}, true},
			{agent, authorizationv1.ResourceAttributes{Verb: "create", Resource: "events", Namespace: "default"}, true},
			{agent, authorizationv1.ResourceAttributes{Verb: "patch", Resource: "events", Namespace: ns}, true},
			{agent, authorizationv1.ResourceAttributes{Verb: "delete", Resource: "events", Namespace: ns}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "get", Resource: "nodes", Name: "any"}, true},
			{agent, authorizationv1.ResourceAttributes{Verb: "watch", Resource: "nodes"}, true},
			{agent, authorizationv1.ResourceAttributes{Verb: "update", Resource: "nodes", Name: "any"}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "get", Resource: "configmaps", Namespace: ns, Name: "bigbox-nodeslo"}, true},
			{agent, authorizationv1.ResourceAttributes{Verb: "watch", Resource: "configmaps", Namespace: ns, Name: "bigbox-nodeslo"}, true},
			{agent, authorizationv1.ResourceAttributes{Verb: "get", Resource: "configmaps", Namespace: ns, Name: "other"}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "list", Resource: "configmaps", Namespace: ns}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "get", Resource: "configmaps", Namespace: "default", Name: "bigbox-nodeslo"}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "update", Resource: "configmaps", Namespace: ns, Name: "bigbox-nodeslo"}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "delete", Resource: "pods", Namespace: "default"}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "patch", Resource: "pods", Namespace: "default"}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "patch", Resource: "nodes", Subresource: "status", Name: "any"}, false},
			{agent, authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Namespace: ns, Name: "bigbox-webhook-tls"}, false},
			{webhook, authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods"}, false},
			{webhook, authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Namespace: ns, Name: "bigbox-webhook-tls"}, false},
		} {
			a := tc.attr
			name := fmt.Sprintf("%s %s %s/%s %s in %q", strings.TrimPrefix(tc.user, "system:serviceaccount:"+ns+":"), a.Verb, a.Resource, a.Subresource, a.Name, a.Namespace)
			sar, err := k.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: tc.user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}, ResourceAttributes: &a},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if sar.Status.Allowed != tc.want {
				t.Errorf("%s: allowed %v, want %v (%s)", name, sar.Status.Allowed, tc.want, sar.Status.Reason)
			}
		}
	})

	t.Run("upgrade keeps the certificates", func(t *testing.T) {
		if caBundle == nil {
			t.Skip("the webhook subtest failed")
		}
		if _, err := helm(t.Context(), t, "upgrade", release, chartDir, "--namespace", ns, "--reuse-values", "--set", "nodeSLO.enabled=false"); err != nil {
			t.Fatal(err)
		}
		mwc, err := k.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "bigbox-webhook", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mwc.Webhooks[0].ClientConfig.CABundle, caBundle) {
			t.Error("helm upgrade made a new CA: pods would keep serving a certificate the API server no longer trusts")
		}
		cm, err := k.client.CoreV1().ConfigMaps(ns).Get(ctx, "bigbox-nodeslo", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n, err := config.Parse([]byte(cm.Data["nodeslo.yaml"]))
		if err != nil {
			t.Fatal(err)
		}
		if n.Enabled == nil || *n.Enabled {
			t.Errorf("after upgrade with nodeSLO.enabled=false the NodeSLO says enabled: %v", n.Enabled)
		}
	})

	t.Run("uninstall", func(t *testing.T) {
		if _, err := helm(t.Context(), t, "uninstall", release, "--namespace", ns); err != nil {
			t.Fatal(err)
		}
		if _, err := k.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "bigbox-webhook", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("MutatingWebhookConfiguration after uninstall: %v, want NotFound", err)
		}
		if _, err := k.client.RbacV1().ClusterRoles().Get(ctx, "bigbox-agent", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ClusterRole after uninstall: %v, want NotFound", err)
		}
	})
}

// verifyServing checks that the serving certificate chains to the CA and
// names the Service's DNS name.
func verifyServing(t *testing.T, caPEM, certPEM []byte, dnsName string) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("caBundle holds no PEM certificate")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("tls.crt holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving certificate for %s: %v", dnsName, err)
	}
}

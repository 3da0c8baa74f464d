//go:build integration

package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/bigbox-dev/bigbox/internal/webhook"
)

// selfSigned writes a CA-less self-signed serving pair for 127.0.0.1 into
// dir and returns the certificate's PEM (the caBundle).
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, caPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bigbox-webhook-test"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, caPEM
}

// TestWebhookThroughAPIServer registers bigbox-webhook with the real API
// server (a URL on loopback: the test cluster has no pod network) and
// creates pods through it: a labelled pod comes back with bigbox resources
// instead of native ones, the originals in an annotation, and BestEffort;
// an unlabelled pod is left alone.
func TestWebhookThroughAPIServer(t *testing.T) {
	c := newCluster(t)
	certFile, keyFile, caPEM := selfSigned(t, t.TempDir())
	srv, err := webhook.NewServer(webhook.Config{
		Listen: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile, Options: webhook.DefaultOptions(),
	}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("webhook server: %v", err)
		}
	})

	name := "bigbox-it-webhook-" + randomSuffix(t)
	url := "https://" + srv.Addr().String() + "/mutate"
	cfg := &admissionv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionv1.MutatingWebhook{{
			Name:                    "pods.bigbox.dev",
			ClientConfig:            admissionv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			Rules:                   []admissionv1.RuleWithOperations{{Operations: []admissionv1.OperationType{admissionv1.Create}, Rule: admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"bigbox.dev/colocation": "true"}},
			FailurePolicy:           ptr.To(admissionv1.Fail),
			SideEffects:             ptr.To(admissionv1.SideEffectClassNone),
			ReinvocationPolicy:      ptr.To(admissionv1.IfNeededReinvocationPolicy),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](5),
		}},
	}
	tctx := testContext(t, time.Minute)
	if _, err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(tctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatalf("register webhook: %v", err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer dcancel()
		if err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(dctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("unregister webhook: %v", err)
		}
	})

	pod := func(labelled bool) *corev1.Pod {
		p := bestEffortPod(t, c)
		if labelled {
			p.Labels["bigbox.dev/colocation"] = "true"
		}
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("100Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("100Mi")},
		}
		return p
	}
	// Server-side dry run goes through admission without leaving a pod; the
	// first calls may race the API server's webhook informer, so retry.
	var got *corev1.Pod
	err = wait.PollUntilContextTimeout(tctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := c.client.CoreV1().Pods(metav1.NamespaceDefault).Create(ctx, pod(true), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return false, err
		}
		got = p
		_, rewritten := p.Spec.Containers[0].Resources.Limits[resCPU]
		return rewritten, nil
	})
	if err != nil {
		t.Fatalf("labelled pod rewritten by the webhook: %v", err)
	}
	res := got.Spec.Containers[0].Resources
	// 250m requested → 3 devices of 100m (rounded up); 100Mi → 2 of 64Mi.
	if q := res.Limits[resCPU]; q.Value() != 3 {
		t.Errorf("bigbox.dev/cpu = %s, want 3", q.String())
	}
	if q := res.Limits[resMemory]; q.Value() != 2 {
		t.Errorf("bigbox.dev/memory = %s, want 2", q.String())
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := res.Requests[r]; ok {
			t.Errorf("native %s request kept: %v", r, res.Requests)
		}
		if _, ok := res.Limits[r]; ok {
			t.Errorf("native %s limit kept: %v", r, res.Limits)
		}
	}
	if got.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("QoS class = %q, want BestEffort", got.Status.QOSClass)
	}
	if got.Annotations["bigbox.dev/original-resources"] == "" {
		t.Errorf("no bigbox.dev/original-resources annotation: %v", got.Annotations)
	}

	plain, err := c.client.CoreV1().Pods(metav1.NamespaceDefault).Create(tctx, pod(false), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("unlabelled pod QoS = %q, want Burstable (untouched)", plain.Status.QOSClass)
	}
}

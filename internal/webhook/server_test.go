package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
)

// pemPair is a self-signed serving pair whose certificate has serial.
func pemPair(t testing.TB, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "bigbox-webhook.bigbox.svc"},
		DNSNames:     []string{"bigbox-webhook.bigbox.svc", "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		// Fixed dates around any run of this test; no wall clock.
		NotBefore:   time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:    time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// replaceFile writes data beside path and renames it over path, as tools
// that update certificates atomically do.
func replaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// serialOf connects to addr and returns the serial of the certificate served.
func serialOf(ctx context.Context, addr string) (int64, error) {
	d := tls.Dialer{Config: &tls.Config{
		// The test reads the serial; trust is not what it checks.
		InsecureSkipVerify: true, //nolint:gosec // see above
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return 0, errors.New("no peer certificate")
	}
	return certs[0].SerialNumber.Int64(), nil
}

// waitSerial connects until addr serves serial; the deadline bounds it.
func waitSerial(t *testing.T, addr string, want int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got int64
	var err error
	for ctx.Err() == nil {
		if got, err = serialOf(ctx, addr); err == nil && got == want {
			return
		}
	}
	t.Fatalf("serial = %d (err %v), want %d", got, err, want)
}

// startServer runs a Server on loopback ports until the test ends.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Options.CPUUnitMillicores == 0 {
		cfg.Options = DefaultOptions()
	}
	s, err := NewServer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

func writePair(t *testing.T, dir string, serial int64) (certPath, keyPath string) {
	t.Helper()
	certPEM, keyPEM := pemPair(t, serial)
	certPath, keyPath = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	replaceFile(t, keyPath, keyPEM)
	replaceFile(t, certPath, certPEM)
	return certPath, keyPath
}

func TestServerReloadsCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPath, keyPath := writePair(t, dir, 1)
	s := startServer(t, Config{MetricsListen: "127.0.0.1:0", TLSCertFile: certPath, TLSKeyFile: keyPath})
	addr := s.Addr().String()
	waitSerial(t, addr, 1)

	// A renewed pair, renamed into place.
	writePair(t, dir, 2)
	waitSerial(t, addr, 2)

	// A broken certificate keeps the last good pair in use.
	replaceFile(t, certPath, []byte("not a certificate"))
	if got, err := serialOf(t.Context(), addr); err != nil || got != 2 {
		t.Fatalf("after a broken certificate: serial %d, %v; want 2", got, err)
	}

	// A certificate whose key is not yet written is not used either; the
	// key arriving completes the pair.
	cert3, key3 := pemPair(t, 3)
	replaceFile(t, certPath, cert3)
	if got, err := serialOf(t.Context(), addr); err != nil || got != 2 {
		t.Fatalf("with the old key: serial %d, %v; want 2", got, err)
	}
	replaceFile(t, keyPath, key3)
	waitSerial(t, addr, 3)

	want := `
# HELP bigbox_webhook_certificate_loads_total Loads of the serving certificate and key from disk, by result (success, error).
# TYPE bigbox_webhook_certificate_loads_total counter
bigbox_webhook_certificate_loads_total{result="error"} 2
bigbox_webhook_certificate_loads_total{result="success"} 3
`
	metrics := httpGet(t, http.DefaultClient, "http://"+s.MetricsAddr().String()+"/metrics")
	if err := testutil.ScrapeAndCompare("http://"+s.MetricsAddr().String()+"/metrics", strings.NewReader(want),
		"bigbox_webhook_certificate_loads_total"); err != nil {
		t.Error(err)
	}
	if !strings.Contains(metrics, "bigbox_webhook_certificate_not_after_seconds 4.1024448e+09") {
		t.Errorf("no certificate expiry (2100-01-01) in\n%s", metrics)
	}
}

// TestCertReloaderSecretVolume swaps the ..data symlink as the kubelet does
// when the Secret behind a volume changes.
func TestCertReloaderSecretVolume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	version := func(name string, serial int64) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		c, k := pemPair(t, serial)
		for file, data := range map[string][]byte{"tls.crt": c, "tls.key": k} {
			if err := os.WriteFile(filepath.Join(dir, name, file), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01_01_00_00_00.1", 1)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	c, err := NewCertReloader(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		t.Helper()
		cert, err := c.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return cert.Leaf.SerialNumber.Int64()
	}
	if got := serial(); got != 1 {
		t.Fatalf("serial = %d, want 1", got)
	}
	if got := serial(); got != 1 || testutil.ToFloat64(c.loads.WithLabelValues("success")) != 1 {
		t.Errorf("unchanged files: serial %d, %v loads; want 1 and no reload", got, testutil.ToFloat64(c.loads.WithLabelValues("success")))
	}
	version("..2026_02_01_00_00_00.2", 2)
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_00.1")); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != 2 {
		t.Errorf("after the swap: serial = %d, want 2", got)
	}
	// Files gone: the loaded pair stays.
	if err := os.Remove(filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != 2 {
		t.Errorf("without files: serial = %d, want 2", got)
	}
}

func httpGet(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

func TestServerServes(t *testing.T) {
	t.Parallel()
	for _, separate := range []bool{true, false} {
		t.Run(fmt.Sprintf("separate metrics listener %v", separate), func(t *testing.T) {
			t.Parallel()
			certPath, keyPath := writePair(t, t.TempDir(), 7)
			cfg := Config{TLSCertFile: certPath, TLSKeyFile: keyPath}
			if separate {
				cfg.MetricsListen = "127.0.0.1:0"
			}
			s := startServer(t, cfg)
			pool := x509.NewCertPool()
			certPEM, err := os.ReadFile(certPath)
			if err != nil {
				t.Fatal(err)
			}
			pool.AppendCertsFromPEM(certPEM)
			transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
			t.Cleanup(transport.CloseIdleConnections)
			client := &http.Client{Transport: transport}
			base := "https://" + s.Addr().String()

			resp, err := client.Post(base+"/mutate", "application/json", bytes.NewReader(readFile(t, "review-labelled.json")))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var review admissionv1.AdmissionReview
			if err := json.NewDecoder(resp.Body).Decode(&review); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || review.Response == nil || !review.Response.Allowed || review.Response.Patch == nil {
				t.Fatalf("POST /mutate: %s, %+v; want allowed with a patch", resp.Status, review.Response)
			}
			for _, p := range []string{"/healthz", "/readyz"} {
				httpGet(t, client, base+p)
			}
			metricsBase := base
			if separate {
				metricsBase = "http://" + s.MetricsAddr().String()
				for _, p := range []string{"/healthz", "/readyz"} {
					httpGet(t, http.DefaultClient, metricsBase+p)
				}
			} else if s.MetricsAddr() != nil {
				t.Errorf("MetricsAddr = %v, want nil", s.MetricsAddr())
			}
			metrics := httpGet(t, client, metricsBase+"/metrics")
			for _, want := range []string{`bigbox_webhook_requests_total{result="mutated"} 1`, "go_goroutines", "process_"} {
				if !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %q", want)
				}
			}
		})
	}
}

func TestNewServerErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPath, keyPath := writePair(t, dir, 1)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	bad := DefaultOptions()
	bad.CPUUnitMillicores = 0
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing certificate", Config{Listen: "127.0.0.1:0", TLSCertFile: filepath.Join(dir, "none"), TLSKeyFile: keyPath, Options: DefaultOptions()}, "stat certificate"},
		{"key is not a key", Config{Listen: "127.0.0.1:0", TLSCertFile: certPath, TLSKeyFile: certPath, Options: DefaultOptions()}, "load key pair"},
		{"invalid options", Config{Listen: "127.0.0.1:0", TLSCertFile: certPath, TLSKeyFile: keyPath, Options: bad}, "cpu unit 0"},
		{"port in use", Config{Listen: busy.Addr().String(), TLSCertFile: certPath, TLSKeyFile: keyPath, Options: DefaultOptions()}, "listen on"},
		{"metrics port in use", Config{Listen: "127.0.0.1:0", MetricsListen: busy.Addr().String(), TLSCertFile: certPath, TLSKeyFile: keyPath, Options: DefaultOptions()}, "listen on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewServer(tt.cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewServer = %v, %v; want an error containing %q", s, err, tt.want)
			}
		})
	}
}

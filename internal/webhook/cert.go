package webhook

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// CertReloader serves a TLS certificate and key pair from files that may be
// replaced while the webhook runs (cert-manager renewing a Secret, which the
// kubelet swaps in by repointing the volume's ..data symlink).
//
// It checks the files at each TLS handshake (GetCertificate) rather than
// watching them: two stat calls per handshake are cheap next to the
// handshake, the API server keeps its connections open, no goroutine or
// debounce timer is needed, and no change can be missed (a watch on a
// symlinked Secret volume must watch the directory and guess which events
// matter). A pair is reloaded when either file's identity (device and inode,
// which a rename or symlink swap changes), size or modification time differs
// from the last attempt. A pair that does not load (say the certificate was
// written but not yet its key) is logged and counted; the last good pair
// stays in use, and the next change of either file is tried again.
type CertReloader struct {
	certPath, keyPath string
	logger            *slog.Logger
	loads             *prometheus.CounterVec
	notAfter          prometheus.Gauge

	mu                  sync.Mutex
	cert                *tls.Certificate
	certStamp, keyStamp os.FileInfo // of the last load attempt
	lastStatErr         string      // logged once, not at every handshake
}

// NewCertReloader loads the pair at once, so a missing or invalid pair fails
// start-up, and registers bigbox_webhook_certificate_loads_total{result} and
// bigbox_webhook_certificate_not_after_seconds on reg.
func NewCertReloader(certPath, keyPath string, reg prometheus.Registerer, logger *slog.Logger) (*CertReloader, error) {
	c := &CertReloader{
		certPath: certPath,
		keyPath:  keyPath,
		logger:   logger,
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bigbox_webhook_certificate_loads_total",
			Help: "Loads of the serving certificate and key from disk, by result (success, error).",
		}, []string{"result"}),
		notAfter: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bigbox_webhook_certificate_not_after_seconds",
			Help: "Expiry of the serving certificate in use, as Unix seconds.",
		}),
	}
	c.loads.WithLabelValues("success")
	c.loads.WithLabelValues("error")
	certStamp, keyStamp, err := c.stat()
	if err != nil {
		return nil, err
	}
	if err := c.load(certStamp, keyStamp); err != nil {
		return nil, err
	}
	for _, col := range []prometheus.Collector{c.loads, c.notAfter} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("register certificate metrics: %w", err)
		}
	}
	return c, nil
}

// GetCertificate is for tls.Config.GetCertificate. It never fails once a
// pair has loaded: a bad file on disk keeps the last good pair in use.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	certStamp, keyStamp, err := c.stat()
	if err != nil {
		if msg := err.Error(); msg != c.lastStatErr {
			c.lastStatErr = msg
			c.logger.Error("check serving certificate, keeping the loaded one", "err", err)
		}
		return c.cert, nil
	}
	c.lastStatErr = ""
	if sameStamp(certStamp, c.certStamp) && sameStamp(keyStamp, c.keyStamp) {
		return c.cert, nil
	}
	if err := c.load(certStamp, keyStamp); err != nil {
		c.logger.Error("reload serving certificate, keeping the loaded one", "err", err)
	}
	return c.cert, nil
}

// Certificate is the pair in use.
func (c *CertReloader) Certificate() *tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert
}

func (c *CertReloader) stat() (certStamp, keyStamp os.FileInfo, err error) {
	if certStamp, err = os.Stat(c.certPath); err != nil {
		return nil, nil, fmt.Errorf("stat certificate: %w", err)
	}
	if keyStamp, err = os.Stat(c.keyPath); err != nil {
		return nil, nil, fmt.Errorf("stat key: %w", err)
	}
	return certStamp, keyStamp, nil
}

// load reads the pair; the stamps were taken before reading, so a change
// during the read is seen at the next handshake. Callers hold mu or own c.
func (c *CertReloader) load(certStamp, keyStamp os.FileInfo) error {
	c.certStamp, c.keyStamp = certStamp, keyStamp
	pair, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		c.loads.WithLabelValues("error").Inc()
		return fmt.Errorf("load key pair %s, %s: %w", c.certPath, c.keyPath, err)
	}
	c.loads.WithLabelValues("success").Inc()
	c.cert = &pair
	c.notAfter.Set(float64(pair.Leaf.NotAfter.Unix()))
	c.logger.Info("serving certificate loaded", "serial", pair.Leaf.SerialNumber.String(),
		"subject", pair.Leaf.Subject.String(), "not_after", pair.Leaf.NotAfter)
	return nil
}

func sameStamp(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

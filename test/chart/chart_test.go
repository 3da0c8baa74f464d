// Package chart tests the Helm chart in deploy/helm/bigbox: without build
// tags, the parts that need neither helm nor a cluster (the dashboard's and
// the alerts' metric names against the agent's real exposition, the alert
// rules through Prometheus's rule parser, the exposition through promlint,
// values.yaml against values.schema.json, the default NodeSLO through the
// agent's own parser, the agent flags the DaemonSet passes); with the tag
// `integration`, helm lint, helm template applied with a server-side dry
// run, and helm install onto the test cluster of hack/kube-up.sh.
package chart

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"

	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/internal/faketree"
)

// Paths relative to this package's directory (go test runs there).
const (
	repoRoot      = "../.."
	chartDir      = repoRoot + "/deploy/helm/bigbox"
	dashboardFile = chartDir + "/files/dashboard.json"
	alertsFile    = chartDir + "/files/alerts.yaml"
)

// notFromAgent are series Prometheus makes itself, allowed in the rules.
var notFromAgent = map[string]string{"up": "written by Prometheus for every scrape target"}

// TestExposition runs the real agent (standalone, on a fake cgroup tree,
// with the chart's default NodeSLO) and the real webhook, and checks their
// /metrics: every metric the dashboard and the alerts use is there, every
// bigbox metric is used somewhere, and promlint finds nothing.
func TestExposition(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs bigbox-agent (-short)")
	}
	families := scrapeAgent(t)
	for name, mf := range scrapeWebhook(t) {
		if _, ok := families[name]; !ok || strings.HasPrefix(name, "bigbox_") {
			families[name] = mf // go_ and process_ families are the same in both
		}
	}
	exposed := map[string]bool{}
	for name, mf := range families {
		exposed[name] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exposed[name+s] = true
			}
		}
	}

	uses := map[string][]string{} // source → metric names
	dash, err := dashboardExprs(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := alertExprs(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []struct {
		name  string
		exprs map[string]string
	}{{"dashboard", dash}, {"alerts", rules}} {
		if len(src.exprs) == 0 {
			t.Fatalf("%s: no expressions found", src.name)
		}
		for where, expr := range src.exprs {
			names, err := metricNames(expr)
			if err != nil {
				t.Errorf("%s %s: %v", src.name, where, err)
				continue
			}
			if len(names) == 0 && !strings.Contains(expr, "vector(") {
				t.Errorf("%s %s: %q selects no metric", src.name, where, expr)
			}
			for _, n := range names {
				uses[n] = append(uses[n], src.name+" "+where)
			}
		}
	}
	for _, n := range sortedKeys(uses) {
		if exposed[n] {
			continue
		}
		if _, ok := notFromAgent[n]; ok {
			continue
		}
		t.Errorf("metric %s (used by %s) is not in the agent's exposition", n, strings.Join(uses[n], "; "))
	}
	// The product's metrics are all on the dashboard or in an alert.
	for _, n := range sortedKeys(exposed) {
		if strings.HasPrefix(n, "bigbox_") && !strings.HasSuffix(n, "_bucket") && !strings.HasSuffix(n, "_sum") &&
			!strings.HasSuffix(n, "_count") && uses[n] == nil && uses[n+"_bucket"] == nil &&
			n != "bigbox_config_version_info" && n != "bigbox_restore_duration_seconds" {
			t.Errorf("metric %s is exposed but on neither the dashboard nor an alert", n)
		}
	}

	t.Run("promlint", func(t *testing.T) {
		var mfs []*dto.MetricFamily
		for _, n := range sortedKeys(families) {
			mfs = append(mfs, families[n])
		}
		problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	})
}

// scrapeAgent builds bigbox-agent, runs it standalone on a fake cgroup v1
// tree with the chart's NodeSLO, and returns its parsed /metrics once the
// first tick has filled the node gauges.
func scrapeAgent(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bigbox-agent")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/bigbox-agent")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/bigbox-agent: %v\n%s", err, out)
	}
	tree := filepath.Join(dir, "cgroup")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := faketree.Write(tree, faketree.Spec{Version: 1, OnlinePods: 3, OfflinePods: 2, CPUs: 2}); err != nil {
		t.Fatalf("fake cgroup tree: %v", err)
	}
	slo, err := defaultNodeSLO()
	if err != nil {
		t.Fatal(err)
	}
	sloPath := filepath.Join(dir, "nodeslo.yaml")
	if err := os.WriteFile(sloPath, slo, 0o644); err != nil {
		t.Fatal(err)
	}

	return runAndScrape(t, bin, regexp.MustCompile(`msg="agent started".* listen=(\S+)`), "bigbox_node_capacity",
		"--standalone", "--cgroup-root", tree, "--kubepods-cgroup", "kubepods",
		"--listen", "127.0.0.1:0", "--state-file", "", "--config", sloPath, "--node-name", "chart-test")
}

// scrapeWebhook builds bigbox-webhook, runs it with a self-signed
// certificate and returns its parsed /metrics.
func scrapeWebhook(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bigbox-webhook")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/bigbox-webhook")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/bigbox-webhook: %v\n%s", err, out)
	}
	certFile, keyFile := writeSelfSigned(t, dir)
	return runAndScrape(t, bin, regexp.MustCompile(`msg=serving .*metrics_listen=(\S+)`), "bigbox_webhook_requests_total",
		"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--tls-cert-file", certFile, "--tls-private-key-file", keyFile)
}

// writeSelfSigned writes a self-signed serving certificate and its key.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Unix(1<<33, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// runAndScrape starts bin with args, takes the metrics address from the
// first log line matching listen, and polls /metrics until the family
// ready is there. The process is stopped (SIGINT) in t.Cleanup.
func runAndScrape(t *testing.T, bin string, listen *regexp.Regexp, ready string, args ...string) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	var logs bytes.Buffer
	addr := make(chan string, 1)
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := listen.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		err := cmd.Wait()
		<-logsDone
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.Exited() && exit.ExitCode() == 0) && ctx.Err() == nil {
			t.Errorf("%s: %v\n%s", bin, err, logs.String())
		}
	})

	var url string
	select {
	case a := <-addr:
		url = "http://" + a + "/metrics"
	case <-logsDone:
		t.Fatalf("%s exited before listening:\n%s", bin, logs.String())
	}
	var families map[string]*dto.MetricFamily
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		families, err = scrape(ctx, url)
		if err != nil {
			return false, err
		}
		_, ok := families[ready]
		return ok, nil
	})
	if err != nil {
		t.Fatalf("scrape %s: %v\nlog of %s:\n%s", url, err, bin, logs.String())
	}
	return families
}

func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", url, resp.Status)
	}
	return parseExposition(resp.Body)
}

// parseExposition reads the Prometheus text format.
func parseExposition(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse exposition: %w", err)
	}
	return mfs, nil
}

// grafanaVars are the dashboard's variables, replaced by plain values so that
// the PromQL parser accepts the expressions.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h",
	"${node}", "n", "$node", "n", "${datasource}", "ds",
)

// dashboardExprs returns every target expression of the dashboard, keyed by
// panel title and refId.
func dashboardExprs(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type panel struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		UID        string  `json:"uid"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]string{}
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			return nil, fmt.Errorf("%s: panel %q has no queries", path, p.Title)
		}
		for _, tg := range p.Targets {
			out[fmt.Sprintf("panel %q %s", p.Title, tg.RefID)] = grafanaVars.Replace(tg.Expr)
		}
	}
	// label_values(metric, label) of the variables: the metric must exist too.
	lv := regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	for _, v := range d.Templating.List {
		q, _ := json.Marshal(v.Query) // a string or {"query": ...}; re-marshalled only to search it
		if m := lv.FindSubmatch(q); m != nil {
			out["variable "+v.Name] = string(m[1])
		}
	}
	return out, nil
}

// alertExprs returns every rule expression of a rule file, keyed by rule.
func alertExprs(path string) (map[string]string, error) {
	groups, errs := parseRules(path)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %v", path, errs)
	}
	out := map[string]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			out[g.Name+"/"+r.Alert+r.Record] = r.Expr
		}
	}
	return out, nil
}

func parseRules(path string) (*rulefmt.RuleGroups, []error) {
	return rulefmt.ParseFile(path, false, model.LegacyValidation, parser.NewParser(parser.Options{}),
		slog.New(slog.DiscardHandler))
}

// metricNames are the metric names an expression selects.
func metricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			if name == "" {
				for _, m := range vs.LabelMatchers {
					if m.Name == model.MetricNameLabel {
						name = m.Value
					}
				}
			}
			if name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		return nil
	})
	return names, nil
}

// TestAlertRules checks files/alerts.yaml with Prometheus's rule parser
// (what promtool check rules runs) and the conventions of the chart.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	groups, errs := parseRules(alertsFile)
	for _, err := range errs {
		t.Errorf("rulefmt: %v", err)
	}
	if groups == nil {
		t.Fatal("no rule groups")
	}
	seen := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a recording rule; the file holds alerts only", g.Name)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			seen[r.Alert] = true
			if !slices.Contains([]string{"info", "warning", "critical"}, r.Labels["severity"]) {
				t.Errorf("alert %s: severity %q, want info, warning or critical", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description"} {
				if r.Annotations[a] == "" {
					t.Errorf("alert %s: no %s annotation", r.Alert, a)
				}
			}
		}
	}
	if len(seen) == 0 {
		t.Error("no alerts")
	}
}

// TestRuleParserRejects makes sure the rule check above can fail.
func TestRuleParserRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, rules string }{
		{"bad PromQL", "groups: [{name: g, rules: [{alert: A, expr: 'rate(x[5m]'}]}]"},
		{"unknown field", "groups: [{name: g, rules: [{alert: A, expr: up, severity: warning}]}]"},
		{"bad template", "groups: [{name: g, rules: [{alert: A, expr: up, annotations: {summary: '{{ $labels.x'}}]}]"},
		{"duplicate group", "groups: [{name: g, rules: []}, {name: g, rules: []}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(path, []byte(tc.rules), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, errs := parseRules(path); len(errs) == 0 {
				t.Errorf("accepted %s", tc.rules)
			}
		})
	}
}

// TestMetricNames checks the helper that extracts names from PromQL.
func TestMetricNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, expr string
		want       []string
	}{
		{"plain", `bigbox_lent{resource="cpu"}`, []string{"bigbox_lent"}},
		{"ratio", `rate(a_total[5m]) / rate(b_total[5m]) > 0.25 and on (node) c == 1`, []string{"a_total", "b_total", "c"}},
		{"histogram", `histogram_quantile(0.99, sum by (le) (rate(h_bucket[1m])))`, []string{"h_bucket"}},
		{"name matcher", `{__name__="x"}`, []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := metricNames(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("metricNames(%q) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
	if _, err := metricNames("rate(x[5m]"); err == nil {
		t.Error("no error on bad PromQL")
	}
}

// TestDashboard checks the dashboard's shape: what Grafana needs to import
// it, and a panel for each thing the issue asks to see.
func TestDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID      int                      `json:"id"`
			Title   string                   `json:"title"`
			Type    string                   `json:"type"`
			GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both needed", d.UID, d.Title)
	}
	ids := map[int]bool{}
	var titles []string
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W <= 0 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		titles = append(titles, strings.ToLower(p.Title))
	}
	all := strings.Join(titles, "\n")
	for _, want := range []string{"online", "lent", "big box", "evictions", "throttling", "pressure", "offline cpu used", "offline memory used"} {
		if !strings.Contains(all, want) {
			t.Errorf("no panel title mentions %q", want)
		}
	}
	exprs, err := dashboardExprs(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for where, e := range exprs {
		if strings.Contains(e, "bigbox_") && !strings.Contains(e, "bigbox_webhook_") && strings.HasPrefix(where, "panel") && !strings.Contains(e, `node=~"n"`) {
			t.Errorf("%s: %q does not filter by the node variable", where, e)
		}
	}
}

// TestValuesSchema validates values.yaml against values.schema.json (with the
// kube-openapi validator, which reads the draft-07 subset the schema uses),
// and checks that the schema rejects typical mistakes.
func TestValuesSchema(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(chartDir + "/values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema spec.Schema
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	values := readValues(t)
	if res := validate.NewSchemaValidator(&schema, nil, "", strfmt.Default).Validate(values); !res.IsValid() {
		t.Fatalf("values.yaml does not validate: %v", res.Errors)
	}
	for _, tc := range []struct {
		name string
		set  func(v map[string]any)
	}{
		{"unknown top-level key", func(v map[string]any) { v["agnet"] = map[string]any{} }},
		{"units in nodeSLO", func(v map[string]any) { sub(v, "nodeSLO")["units"] = map[string]any{"cpuMilli": 100} }},
		{"typo in nodeSLO", func(v map[string]any) { sub(v, "nodeSLO", "cpu")["reclaimWatermarkPrecent"] = 65 }},
		{"percent over 100", func(v map[string]any) { sub(v, "nodeSLO", "memory")["evictWatermarkPercent"] = 120 }},
		{"duration without unit", func(v map[string]any) { sub(v, "nodeSLO")["evictionCooldown"] = "10" }},
		{"fractional cpu unit", func(v map[string]any) { sub(v, "units")["cpuMillicores"] = 1.5 }},
		{"zero cpu unit", func(v map[string]any) { sub(v, "units")["cpuMillicores"] = 0 }},
		{"bad memory unit", func(v map[string]any) { sub(v, "units")["memoryBytes"] = "64 MiB" }},
		{"override without selector", func(v map[string]any) {
			sub(v, "nodeSLO")["nodes"] = []any{map[string]any{"enabled": false}}
		}},
		{"failure policy", func(v map[string]any) { sub(v, "webhook")["failurePolicy"] = "Retry" }},
		{"privileged as string", func(v map[string]any) { sub(v, "agent")["privileged"] = "yes" }},
		{"relative host path", func(v map[string]any) { sub(v, "agent", "hostPaths")["cgroupRoot"] = "sys/fs/cgroup" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := readValues(t)
			tc.set(v)
			if res := validate.NewSchemaValidator(&schema, nil, "", strfmt.Default).Validate(v); res.IsValid() {
				t.Error("accepted")
			}
		})
	}
}

func readValues(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	return v
}

// sub returns the nested map at keys.
func sub(v map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		v = v[k].(map[string]any)
	}
	return v
}

// defaultNodeSLO is the NodeSLO document the chart writes with its default
// values, built the way templates/_helpers.tpl builds it: .Values.nodeSLO
// plus the units of .Values.units.
func defaultNodeSLO() ([]byte, error) {
	b, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		return nil, err
	}
	var v struct {
		Units struct {
			CPUMillicores int64 `json:"cpuMillicores"`
			MemoryBytes   any   `json:"memoryBytes"`
		} `json:"units"`
		NodeSLO map[string]any `json:"nodeSLO"`
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("values.yaml: %w", err)
	}
	v.NodeSLO["units"] = map[string]any{"cpuMilli": v.Units.CPUMillicores, "memoryBytes": v.Units.MemoryBytes}
	return yaml.Marshal(v.NodeSLO)
}

// TestDefaultNodeSLO parses the chart's default NodeSLO with the agent's own
// parser and checks that the units come from .Values.units.
func TestDefaultNodeSLO(t *testing.T) {
	t.Parallel()
	doc, err := defaultNodeSLO()
	if err != nil {
		t.Fatal(err)
	}
	n, err := config.Parse(doc)
	if err != nil {
		t.Fatalf("the agent rejects the chart's NodeSLO: %v\n%s", err, doc)
	}
	u := n.UnitSizes()
	if u.CPUMilli != 100 || u.MemoryBytes != 64<<20 {
		t.Errorf("units = %+v, want 100 millicores and 64Mi", u)
	}
}

// TestAgentFlags checks that every flag the DaemonSet passes exists in
// bigbox-agent (a renamed flag would crash-loop every agent).
func TestAgentFlags(t *testing.T) {
	t.Parallel()
	checkFlags(t, "templates/agent-daemonset.yaml", "./cmd/bigbox-agent")
}

// TestWebhookFlags is the same for the webhook's Deployment.
func TestWebhookFlags(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(repoRoot + "/cmd/bigbox-webhook"); err != nil {
		t.Skipf("cmd/bigbox-webhook is not in this tree yet: %v", err)
	}
	checkFlags(t, "templates/webhook-deployment.yaml", "./cmd/bigbox-webhook")
}

// checkFlags compares the --flags of a template's args with the flags the
// command defines, read from its -help output.
func checkFlags(t *testing.T, template, cmd string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("builds %s (-short)", cmd)
	}
	b, err := os.ReadFile(filepath.Join(chartDir, template))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- --([a-z][a-z0-9-]*)`).FindAllSubmatch(b, -1) {
		used[string(m[1])] = true
	}
	if len(used) == 0 {
		t.Fatalf("%s: no flags found", template)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(cmd))
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, cmd)
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", cmd, err, out)
	}
	// The flag package prints the defaults and exits 0 on -help.
	help, err := exec.CommandContext(t.Context(), bin, "-help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -help: %v\n%s", cmd, err, help)
	}
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`).FindAllSubmatch(help, -1) {
		defined[string(m[1])] = true
	}
	for _, f := range sortedKeys(used) {
		if !defined[f] {
			t.Errorf("%s passes --%s, which %s does not define (it has %v)", template, f, cmd, sortedKeys(defined))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

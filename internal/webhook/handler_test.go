package webhook

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func newTestHandler(t testing.TB, opts Options) (*Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := NewHandler(opts, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return h, reg
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func post(h http.Handler, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decodeResponse decodes a 200 answer and checks the envelope.
func decodeResponse(t *testing.T, w *httptest.ResponseRecorder, uid string) *admissionv1.AdmissionResponse {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" {
		t.Errorf("response is %s %s", out.APIVersion, out.Kind)
	}
	if out.Response == nil || out.Request != nil {
		t.Fatalf("response = %+v, request = %+v; want only a response", out.Response, out.Request)
	}
	if string(out.Response.UID) != uid {
		t.Errorf("uid = %q, want %q", out.Response.UID, uid)
	}
	return out.Response
}

// reviewWith is the labelled review with edit applied to its request.
func reviewWith(t *testing.T, edit func(*admissionv1.AdmissionRequest)) []byte {
	t.Helper()
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(readFile(t, "review-labelled.json"), &review); err != nil {
		t.Fatal(err)
	}
	edit(review.Request)
	b, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const reviewUID = "705ab4f5-6393-11e8-b7cc-42010a800002"

func TestHandlerMutates(t *testing.T) {
	t.Parallel()
	h, _ := newTestHandler(t, DefaultOptions())
	in := readFile(t, "review-labelled.json")
	w := post(h, "application/json", in)
	golden(t, "response-labelled.json", w.Body.Bytes())
	resp := decodeResponse(t, w, reviewUID)
	if !resp.Allowed || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("response = %+v, want allowed with a JSON patch", resp)
	}
	var readable bytes.Buffer
	if err := json.Indent(&readable, resp.Patch, "", "  "); err != nil {
		t.Fatalf("patch is not JSON: %v", err)
	}
	readable.WriteByte('\n')
	golden(t, "patch-labelled.json", readable.Bytes())

	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(in, &review); err != nil {
		t.Fatal(err)
	}
	patched, err := applyPatch(review.Request.Object.Raw, resp.Patch)
	if err != nil {
		t.Fatalf("apply patch: %v", err)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(patched, &pod); err != nil {
		t.Fatal(err)
	}
	want := map[string]corev1.ResourceRequirements{
		"fetch":  req(rl("bigbox.dev/cpu", "2", "bigbox.dev/memory", "1"), rl("bigbox.dev/cpu", "2", "bigbox.dev/memory", "1")),
		"ffmpeg": req(rl("bigbox.dev/cpu", "20", "bigbox.dev/memory", "16"), rl("bigbox.dev/cpu", "20", "bigbox.dev/memory", "16")),
		"log":    {},
	}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		if !equality.Semantic.DeepEqual(c.Resources, want[c.Name]) {
			t.Errorf("container %q resources = %+v, want %+v", c.Name, c.Resources, want[c.Name])
		}
	}
	if pod.Annotations["team"] != "video" {
		t.Errorf("annotations = %v, want team kept", pod.Annotations)
	}
	if got, want := pod.Annotations[AnnotationOriginalResources],
		`{"fetch":{"requests":{"cpu":"150m","memory":"32Mi"}},"ffmpeg":{"requests":{"cpu":"2","memory":"1Gi"},"limits":{"cpu":"2","memory":"1Gi"}}}`; got != want {
		t.Errorf("annotation = %s, want %s", got, want)
	}

	// Reinvocation sees the patched object and changes nothing.
	again := reviewWith(t, func(r *admissionv1.AdmissionRequest) { r.Object.Raw = patched })
	resp = decodeResponse(t, post(h, "application/json", again), reviewUID)
	if !resp.Allowed || resp.Patch != nil || resp.PatchType != nil {
		t.Errorf("reinvocation response = %+v, want allowed without a patch", resp)
	}
}

func TestHandlerReviews(t *testing.T) {
	t.Parallel()
	opts := DefaultOptions()
	opts.AllowedNamespaces = []string{"batch", "spark"}
	opts.ForbiddenResourcePrefixes = []string{"nvidia.com/"}
	tests := []struct {
		name        string
		edit        func(*admissionv1.AdmissionRequest)
		wantAllowed bool
		wantPatch   bool
		wantCode    int32
		wantMessage []string
		wantResult  string
	}{
		{
			name:        "labelled pod is converted",
			edit:        func(*admissionv1.AdmissionRequest) {},
			wantAllowed: true, wantPatch: true, wantResult: ResultMutated,
		},
		{
			name: "unlabelled pod is untouched",
			edit: func(r *admissionv1.AdmissionRequest) {
				r.Object.Raw = []byte(`{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":"1"}}}]}}`)
			},
			wantAllowed: true, wantResult: ResultUnchanged,
		},
		{
			name: "namespace from the request",
			edit: func(r *admissionv1.AdmissionRequest) {
				r.Namespace = "web"
				r.Object.Raw = []byte(`{"metadata":{"labels":{"bigbox.dev/colocation":"true"}},"spec":{"containers":[{"name":"x","resources":{"requests":{"cpu":"1"}}}]}}`)
			},
			wantCode: http.StatusForbidden, wantMessage: []string{"bigbox-webhook:", `namespace "web"`, "batch, spark"}, wantResult: ResultDenied,
		},
		{
			name: "forbidden resource",
			edit: func(r *admissionv1.AdmissionRequest) {
				r.Object.Raw = []byte(`{"metadata":{"labels":{"bigbox.dev/colocation":"true"}},"spec":{"containers":[{"name":"train","resources":{"limits":{"nvidia.com/gpu":"1"}}}]}}`)
			},
			wantCode: http.StatusForbidden, wantMessage: []string{`container "train" asks for nvidia.com/gpu`}, wantResult: ResultDenied,
		},
		{
			name: "wrong kind",
			edit: func(r *admissionv1.AdmissionRequest) {
				r.Kind.Group, r.Kind.Kind = "apps", "Deployment"
				r.Resource.Group, r.Resource.Resource = "apps", "deployments"
			},
			wantCode: http.StatusBadRequest, wantMessage: []string{"only v1 pods", `"apps/v1.Deployment"`, "MutatingWebhookConfiguration"}, wantResult: ResultError,
		},
		{
			name:        "update is not mutated",
			edit:        func(r *admissionv1.AdmissionRequest) { r.Operation = admissionv1.Update },
			wantAllowed: true, wantResult: ResultUnchanged,
		},
		{
			name:        "subresource is not mutated",
			edit:        func(r *admissionv1.AdmissionRequest) { r.SubResource = "ephemeralcontainers" },
			wantAllowed: true, wantResult: ResultUnchanged,
		},
		{
			name:     "no object",
			edit:     func(r *admissionv1.AdmissionRequest) { r.Object.Raw = nil },
			wantCode: http.StatusBadRequest, wantMessage: []string{"no object"}, wantResult: ResultError,
		},
		{
			name:     "object is not a pod",
			edit:     func(r *admissionv1.AdmissionRequest) { r.Object.Raw = []byte(`{"spec":{"containers":"none"}}`) },
			wantCode: http.StatusBadRequest, wantMessage: []string{"decode pod"}, wantResult: ResultError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, reg := newTestHandler(t, opts)
			resp := decodeResponse(t, post(h, "application/json; charset=utf-8", reviewWith(t, tt.edit)), reviewUID)
			if resp.Allowed != tt.wantAllowed || (resp.Patch != nil) != tt.wantPatch {
				t.Errorf("allowed %v, patch %s; want allowed %v, patch %v", resp.Allowed, resp.Patch, tt.wantAllowed, tt.wantPatch)
			}
			if !tt.wantAllowed {
				if resp.Result == nil || resp.Result.Code != tt.wantCode {
					t.Fatalf("result = %+v, want code %d", resp.Result, tt.wantCode)
				}
				for _, s := range tt.wantMessage {
					if !strings.Contains(resp.Result.Message, s) {
						t.Errorf("message %q does not contain %q", resp.Result.Message, s)
					}
				}
			}
			if got := testutil.ToFloat64(h.requests.WithLabelValues(tt.wantResult)); got != 1 {
				t.Errorf("requests{result=%q} = %v, want 1", tt.wantResult, got)
			}
			if n, err := testutil.GatherAndCount(reg, "bigbox_webhook_requests_total"); err != nil || n != 4 {
				t.Errorf("bigbox_webhook_requests_total has %d series (%v), want 4", n, err)
			}
		})
	}
}

func TestHandlerBadRequests(t *testing.T) {
	t.Parallel()
	valid := string(readFile(t, "review-labelled.json"))
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantStatus  int
		wantBody    string
	}{
		{"garbage", "", "application/json", "\x00not json{", http.StatusBadRequest, "decode AdmissionReview"},
		{"empty body", "", "application/json", "", http.StatusBadRequest, "decode AdmissionReview"},
		{"wrong content type", "", "text/plain", valid, http.StatusUnsupportedMediaType, `content type "text/plain" is not application/json`},
		{"no content type", "", "", valid, http.StatusUnsupportedMediaType, "is not application/json"},
		{"yaml", "", "application/yaml", valid, http.StatusUnsupportedMediaType, "is not application/json"},
		{"GET", http.MethodGet, "application/json", "", http.StatusMethodNotAllowed, "send an AdmissionReview with POST"},
		{"v1beta1 review", "", "application/json", strings.Replace(valid, "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1),
			http.StatusBadRequest, `want admission.k8s.io/v1 AdmissionReview`},
		{"not a review", "", "application/json", `{"apiVersion":"v1","kind":"Pod"}`, http.StatusBadRequest, `kind "Pod"`},
		{"no request", "", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest, "no request"},
		{"no uid", "", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`, http.StatusBadRequest, "no uid"},
		{"wrong case", "", "application/json", strings.Replace(valid, `"request"`, `"Request"`, 1), http.StatusBadRequest, "no request"},
		{"too large", "", "application/json", `{"apiVersion":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, "read body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newTestHandler(t, DefaultOptions())
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, "/mutate", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			body, _ := io.ReadAll(w.Body) // a recorder's body cannot fail
			if w.Code != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("got %d %q, want %d containing %q", w.Code, body, tt.wantStatus, tt.wantBody)
			}
			if got := testutil.ToFloat64(h.requests.WithLabelValues(ResultError)); got != 1 {
				t.Errorf("requests{result=error} = %v, want 1", got)
			}
		})
	}
}

func TestHandlerMetrics(t *testing.T) {
	t.Parallel()
	h, reg := newTestHandler(t, DefaultOptions())
	labelledReview := readFile(t, "review-labelled.json")
	post(h, "application/json", labelledReview)
	post(h, "application/json", labelledReview)
	post(h, "application/json", reviewWith(t, func(r *admissionv1.AdmissionRequest) { r.Operation = admissionv1.Delete }))
	post(h, "application/json", []byte("garbage"))
	if err := testutil.GatherAndCompare(reg, bytes.NewReader(readFile(t, "metrics.prom"))); err != nil {
		t.Error(err)
	}
}

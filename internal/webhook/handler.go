package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
)

// MaxBodyBytes bounds an AdmissionReview. The API server sends the object
// (and, on update, the old object); etcd stores objects up to 1.5 MiB by
// default, so 8 MiB leaves room for both and the envelope.
const MaxBodyBytes = 8 << 20

// Results counted by bigbox_webhook_requests_total.
const (
	ResultMutated   = "mutated"
	ResultUnchanged = "unchanged"
	ResultDenied    = "denied"
	ResultError     = "error"
)

var (
	podKind     = metav1.GroupVersionKind{Group: "", Version: "v1", Kind: "Pod"}
	podResource = metav1.GroupVersionResource{Group: "", Version: "v1", Resource: "pods"}
)

// Handler answers admission/v1 AdmissionReviews for pods (POST, JSON).
type Handler struct {
	opts     Options
	logger   *slog.Logger
	requests *prometheus.CounterVec
}

// NewHandler checks opts and registers bigbox_webhook_requests_total on reg.
func NewHandler(opts Options, reg prometheus.Registerer, logger *slog.Logger) (*Handler, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("webhook options: %w", err)
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bigbox_webhook_requests_total",
		Help: "Admission reviews answered, by result: mutated (patched), unchanged (allowed as is), denied (not convertible), error (malformed request).",
	}, []string{"result"})
	for _, r := range []string{ResultMutated, ResultUnchanged, ResultDenied, ResultError} {
		requests.WithLabelValues(r)
	}
	if err := reg.Register(requests); err != nil {
		return nil, fmt.Errorf("register webhook metrics: %w", err)
	}
	return &Handler{opts: opts, logger: logger, requests: requests}, nil
}

// requestError is a malformed request, answered with an HTTP error status
// rather than an AdmissionReview.
type requestError struct {
	status int
	err    error
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// ServeHTTP decodes an AdmissionReview and answers one with the same UID.
// Malformed requests get 400 (415 for a content type other than JSON, 413
// for a body over MaxBodyBytes) and a plain-text reason; the API server then
// applies the webhook's failurePolicy.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.requests.WithLabelValues(ResultError).Inc()
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method "+r.Method+" not allowed: send an AdmissionReview with POST", http.StatusMethodNotAllowed)
		return
	}
	review, err := decodeReview(r.Header.Get("Content-Type"), http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		h.requests.WithLabelValues(ResultError).Inc()
		status := http.StatusBadRequest
		if re, ok := errors.AsType[*requestError](err); ok {
			status = re.status
		}
		h.logger.Warn("bad admission request", "remote", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	resp, result := h.Review(review.Request)
	h.requests.WithLabelValues(result).Inc()
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp}
	body, err := json.Marshal(out)
	if err != nil {
		// Cannot happen for these types; answer so the API server applies
		// the failure policy instead of waiting for its timeout.
		h.logger.Error("encode admission review", "err", err)
		http.Error(w, "encode admission review: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(body); err != nil {
		h.logger.Debug("write admission review", "err", err)
	}
}

// decodeReview reads an admission/v1 AdmissionReview carrying a request.
func decodeReview(contentType string, body io.Reader) (*admissionv1.AdmissionReview, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return nil, &requestError{http.StatusUnsupportedMediaType,
			fmt.Errorf("content type %q is not application/json", contentType)}
	}
	data, err := io.ReadAll(body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &requestError{http.StatusRequestEntityTooLarge, fmt.Errorf("read body: %w", err)}
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	var review admissionv1.AdmissionReview
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &review); err != nil {
		return nil, fmt.Errorf("decode AdmissionReview: %w", err)
	}
	if gv := admissionv1.SchemeGroupVersion.String(); review.APIVersion != gv || review.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("body is apiVersion %q kind %q, want %s AdmissionReview", review.APIVersion, review.Kind, gv)
	}
	if review.Request == nil {
		return nil, errors.New("AdmissionReview has no request")
	}
	if review.Request.UID == "" {
		return nil, errors.New("AdmissionReview request has no uid")
	}
	return &review, nil
}

// Review answers one admission request: a patch, an unchanged allow, or a
// denial whose message says why. result is the metric label.
func (h *Handler) Review(req *admissionv1.AdmissionRequest) (resp *admissionv1.AdmissionResponse, result string) {
	resp = &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	logger := h.logger.With("uid", req.UID, "namespace", req.Namespace, "name", req.Name)
	reject := func(code int32, reason metav1.StatusReason, msg string) {
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: "bigbox-webhook: " + msg}
	}

	// The webhook configuration names only pods; anything else is a
	// configuration error, and saying so beats mutating what we do not know.
	if req.Kind != podKind || req.Resource != podResource {
		logger.Warn("not a pod", "kind", req.Kind, "resource", req.Resource)
		reject(http.StatusBadRequest, metav1.StatusReasonBadRequest,
			fmt.Sprintf("only v1 pods are handled, got kind %s resource %s; check the MutatingWebhookConfiguration rules", gvkString(req.Kind), gvrString(req.Resource)))
		return resp, ResultError
	}
	// Container resources are fixed at creation (in-place resize cannot
	// change the QoS class), and subresources carry other objects.
	if req.Operation != admissionv1.Create || req.SubResource != "" {
		return resp, ResultUnchanged
	}
	if len(req.Object.Raw) == 0 {
		reject(http.StatusBadRequest, metav1.StatusReasonBadRequest, "request has no object")
		return resp, ResultError
	}
	pod, err := decodePod(req.Object.Raw)
	if err != nil {
		logger.Warn("decode pod", "err", err)
		reject(http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("decode pod: %v", err))
		return resp, ResultError
	}
	// On create the object often has no namespace yet; the request has it.
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	patch, denyReason, err := Mutate(pod, h.opts)
	switch {
	case err != nil:
		logger.Error("mutate pod", "err", err)
		reject(http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
		return resp, ResultError
	case denyReason != "":
		logger.Info("pod denied", "reason", denyReason)
		reject(http.StatusForbidden, metav1.StatusReasonForbidden, denyReason)
		return resp, ResultDenied
	case len(patch) == 0:
		logger.Debug("pod unchanged")
		return resp, ResultUnchanged
	}
	data, err := json.Marshal(patch)
	if err != nil {
		logger.Error("encode patch", "err", err)
		reject(http.StatusInternalServerError, metav1.StatusReasonInternalError, fmt.Sprintf("encode patch: %v", err))
		return resp, ResultError
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch = data
	resp.PatchType = &pt
	logger.Info("pod converted", "generate_name", pod.GenerateName, "operations", len(patch))
	return resp, ResultMutated
}

func gvkString(k metav1.GroupVersionKind) string {
	return fmt.Sprintf("%q", k.Group+"/"+k.Version+"."+k.Kind)
}

func gvrString(r metav1.GroupVersionResource) string {
	return fmt.Sprintf("%q", r.Group+"/"+r.Version+"/"+r.Resource)
}

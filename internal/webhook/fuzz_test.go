package webhook

import (
	"encoding/json"
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	kjson "sigs.k8s.io/json"
)

// FuzzAdmissionReview feeds the handler arbitrary bodies. Invariants: no
// panic; a body that is not JSON gets 400; a 200 answer carries the
// request's UID; an unlabelled pod is never patched; applying a patch and
// reviewing the result again yields no further patch and no denial.
// Seeds are in testdata/fuzz/FuzzAdmissionReview.
func FuzzAdmissionReview(f *testing.F) {
	opts := DefaultOptions()
	opts.ForbiddenResourcePrefixes = []string{"nvidia.com/"}
	h, _ := newTestHandler(f, opts)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := post(h, "application/json", body)
		if !json.Valid(body) && w.Code != http.StatusBadRequest {
			t.Fatalf("invalid JSON got status %d, want 400", w.Code)
		}
		if w.Code != http.StatusOK {
			switch w.Code {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("status %d", w.Code)
			}
			if w.Body.Len() == 0 {
				t.Fatal("error answer without a reason")
			}
			return
		}
		var in admissionv1.AdmissionReview
		if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &in); err != nil || in.Request == nil {
			t.Fatalf("200 for a body that does not decode as a review: %v", err)
		}
		resp := decodeResponse(t, w, string(in.Request.UID))
		if resp.Patch == nil {
			return
		}
		if !resp.Allowed || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
			t.Fatalf("patch with allowed %v, patchType %v", resp.Allowed, resp.PatchType)
		}
		// Only the labels: a whole corev1.Pod would parse quantities the
		// handler screens or skips (see podView).
		var pod struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := kjson.UnmarshalCaseSensitivePreserveInts(in.Request.Object.Raw, &pod); err != nil {
			t.Fatalf("patch for an object that does not decode: %v", err)
		}
		if pod.Metadata.Labels[LabelColocation] != "true" {
			t.Fatalf("patch for an unlabelled pod (labels %v)", pod.Metadata.Labels)
		}
		patched, err := applyPatch(in.Request.Object.Raw, resp.Patch)
		if err != nil {
			t.Fatalf("apply patch %s: %v", resp.Patch, err)
		}
		in.Request.Object.Raw = patched
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		resp = decodeResponse(t, post(h, "application/json", again), string(in.Request.UID))
		if !resp.Allowed || resp.Patch != nil {
			t.Fatalf("second review of %s: allowed %v, patch %s, result %+v; want allowed without a patch",
				patched, resp.Allowed, resp.Patch, resp.Result)
		}
	})
}

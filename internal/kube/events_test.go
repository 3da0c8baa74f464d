package kube

import (
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestRecorderBeforeRun: Events recorded before Run are written once it
// starts.
func TestRecorderBeforeRun(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	events := eventWatch(t, client)
	rec := NewRecorder(client, testNode, testLogger(t))
	rec.Event(NodeRef(testNode), corev1.EventTypeNormal, "Early", "before run")
	runInBackground(t, rec.Run)
	rec.Event(PodRef("batch", "p", "uid-p"), corev1.EventTypeWarning, "Late", strings.Repeat("x", 2000))

	got := nextEvents(t, events, 2)
	if got[0].Reason != "Early" || got[0].InvolvedObject.Kind != "Node" || got[0].Namespace != "default" {
		t.Errorf("first event %+v, want the early one on the node (namespace default)", got[0])
	}
	if got[1].Reason != "Late" || got[1].InvolvedObject.Kind != "Pod" || got[1].Namespace != "batch" {
		t.Errorf("second event %+v, want the late one on the pod in its namespace", got[1])
	}
	if n := len(got[1].Message); n > maxEventMessageBytes {
		t.Errorf("message of %d bytes, want at most %d", n, maxEventMessageBytes)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "abc", 10, "abc"},
		{"exact", "abcdef", 6, "abcdef"},
		{"cut", "abcdefghij", 6, "abc…"},
		{"no split rune", "ab€€€€", 7, "ab…"},
		{"rune boundary", "ab€€€€", 8, "ab€…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := truncate(tc.in, tc.n)
			if got != tc.want || len(got) > tc.n || !utf8.ValidString(got) {
				t.Errorf("truncate(%q, %d) = %q, want %q (valid UTF-8, at most %d bytes)", tc.in, tc.n, got, tc.want, tc.n)
			}
		})
	}
}

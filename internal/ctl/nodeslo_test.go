package ctl

import (
	"strings"
	"testing"

	"github.com/bigbox-dev/bigbox/internal/config"
)

const prodSLO = `# NodeSLO of the prod cluster

# lend less CPU
cpu:
  reclaimWatermarkPercent: 60 # measured in 2026
nodes:
- selector: {matchLabels: {pool: transcoding}}
  cpu: {reclaimWatermarkPercent: 75}
`

func TestEditSwitch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		s    Switch
		// want is the whole result; "" with unchanged means the input.
		want      string
		unchanged bool
		notes     []string
		err       string
	}{
		{
			name: "cluster disable keeps comments, order and fields",
			doc:  prodSLO,
			s:    Switch{Enabled: false},
			want: `# NodeSLO of the prod cluster

enabled: false
# lend less CPU
cpu:
  reclaimWatermarkPercent: 60 # measured in 2026
nodes:
  - selector: {matchLabels: {pool: transcoding}}
    cpu: {reclaimWatermarkPercent: 75}
`,
			notes: []string{"enabled: false"},
		},
		{
			name:  "cluster disable of an empty document",
			doc:   "",
			s:     Switch{Enabled: false},
			want:  "enabled: false\n",
			notes: []string{"enabled: false"},
		},
		{
			name: "cluster disable keeps the header comment on top",
			doc:  "# header\ncpu: {reclaimWatermarkPercent: 50}\n",
			s:    Switch{Enabled: false},
			want: "# header\nenabled: false\ncpu: {reclaimWatermarkPercent: 50}\n",
		},
		{
			name: "cluster disable of a document of comments only",
			doc:  "# nothing here yet\n",
			s:    Switch{Enabled: false},
			want: "# nothing here yet\n\nenabled: false\n",
		},
		{
			name:      "cluster disable when disabled already leaves the bytes alone",
			doc:       "enabled: false\nnodes:\n- selector: {}\n  cpu: {reclaimWatermarkPercent: 50}\n",
			s:         Switch{Enabled: false},
			unchanged: true,
			notes:     []string{"nothing to change"},
		},
		{
			name:  "cluster enable sets an existing false to true, keeping its comment",
			doc:   "enabled: false # incident 42\ncpu: {reclaimWatermarkPercent: 50}\n",
			s:     Switch{Enabled: true},
			want:  "enabled: true # incident 42\ncpu: {reclaimWatermarkPercent: 50}\n",
			notes: []string{"enabled: true"},
		},
		{
			name:  "cluster disable sets the switch whatever the case of its key",
			doc:   "enABled: true\n",
			s:     Switch{Enabled: false},
			want:  "enABled: false\n",
			notes: []string{"enabled: false"},
		},
		{
			name:      "cluster enable leaves an absent switch absent",
			doc:       prodSLO,
			s:         Switch{Enabled: true},
			unchanged: true,
		},
		{
			name: "cluster disable drops per-node enables and names an operator's",
			doc: `enabled: true
nodes:
  - selector: {matchLabels: {kubernetes.io/hostname: n1}}
    enabled: true
  - selector: {matchLabels: {pool: canary}}
    enabled: true
    cpu: {reclaimWatermarkPercent: 50}
  - selector: {matchLabels: {kubernetes.io/hostname: n2}}
    enabled: false
  - selector: {}
    enabled: true
`,
			s: Switch{Enabled: false},
			want: `enabled: false
nodes:
  - selector: {matchLabels: {pool: canary}}
    enabled: true
    cpu: {reclaimWatermarkPercent: 50}
  - selector: {matchLabels: {kubernetes.io/hostname: n2}}
    enabled: false
  - selector: {}
    enabled: true
`,
			notes: []string{"nodes[0]: removed the entry enabling n1", "nodes[1] sets enabled: true", "nodes[3] sets enabled: true"},
		},
		{
			name: "node disable appends an override",
			doc:  prodSLO,
			s:    Switch{Host: "n1"},
			want: `# NodeSLO of the prod cluster

# lend less CPU
cpu:
  reclaimWatermarkPercent: 60 # measured in 2026
nodes:
  - selector: {matchLabels: {pool: transcoding}}
    cpu: {reclaimWatermarkPercent: 75}
  - selector: {matchLabels: {kubernetes.io/hostname: n1}}
    enabled: false
`,
			notes: []string{"nodes[1]: n1 disabled"},
		},
		{
			name:  "node disable of an empty document quotes a numeric name",
			doc:   "",
			s:     Switch{Host: "123"},
			want:  "nodes:\n  - selector: {matchLabels: {kubernetes.io/hostname: \"123\"}}\n    enabled: false\n",
			notes: []string{"nodes[0]: 123 disabled"},
		},
		{
			name: "node disable updates the node's entry and moves it last",
			doc: `nodes:
  - selector: {matchLabels: {kubernetes.io/hostname: n1}}
    enabled: true
  - selector: {matchLabels: {pool: a}}
    enabled: true
`,
			s: Switch{Host: "n1", NodeLabels: map[string]string{HostnameLabel: "n1", "pool": "a"}},
			want: `nodes:
  - selector: {matchLabels: {pool: a}}
    enabled: true
  - selector: {matchLabels: {kubernetes.io/hostname: n1}}
    enabled: false
`,
		},
		{
			name:  "node disable quotes a name YAML 1.1 reads as a boolean",
			doc:   "nodes:\n- selector: {matchLabels: {kubernetes.io/hostname: Y}}\n  enabled: true\n",
			s:     Switch{Host: "Y"},
			want:  "nodes:\n  - selector: {matchLabels: {kubernetes.io/hostname: \"Y\"}}\n    enabled: false\n",
			notes: []string{"nodes[0]: Y disabled"},
		},
		{
			name:      "node disable twice changes nothing",
			doc:       "nodes:\n- selector: {matchLabels: {kubernetes.io/hostname: n1}}\n  enabled: false\n",
			s:         Switch{Host: "n1"},
			unchanged: true,
		},
		{
			name:  "node enable removes the entry and the emptied list",
			doc:   "cpu: {reclaimWatermarkPercent: 50}\nnodes:\n- selector: {matchLabels: {kubernetes.io/hostname: n1}}\n  enabled: false\n",
			s:     Switch{Host: "n1", Enabled: true},
			want:  "cpu: {reclaimWatermarkPercent: 50}\n",
			notes: []string{"nodes[0]: removed the entry switching n1"},
		},
		{
			name: "node enable keeps other nodes' entries",
			doc: `nodes:
  - selector: {matchLabels: {kubernetes.io/hostname: n2}}
    enabled: false
  - selector: {matchLabels: {kubernetes.io/hostname: n1}}
    enabled: false
`,
			s:    Switch{Host: "n1", Enabled: true},
			want: "nodes:\n  - selector: {matchLabels: {kubernetes.io/hostname: n2}}\n    enabled: false\n",
		},
		{
			name: "node enable while the cluster is off adds an enabling override",
			doc:  "enabled: false\n",
			s:    Switch{Host: "n1", Enabled: true},
			want: "enabled: false\nnodes:\n  - selector: {matchLabels: {kubernetes.io/hostname: n1}}\n    enabled: true\n",
			notes: []string{
				"nodes[0]: n1 enabled (the cluster-wide switch or another override disables it)",
			},
		},
		{
			name: "node enable clears the switch of an operator's entry for the node",
			doc: `nodes:
  - selector: {matchLabels: {kubernetes.io/hostname: n1}}
    enabled: false # broken disk
    memory: {reclaimWatermarkPercent: 40}
`,
			s: Switch{Host: "n1", Enabled: true},
			want: `nodes:
  - selector: {matchLabels: {kubernetes.io/hostname: n1}}
    memory: {reclaimWatermarkPercent: 40}
`,
			notes: []string{"nodes[0]: removed enabled: false from the override of n1"},
		},
		{
			name:      "node enable of an enabled node changes nothing",
			doc:       prodSLO,
			s:         Switch{Host: "n1", Enabled: true},
			unchanged: true,
		},
		{
			name: "a document invalid already is refused",
			doc:  "enabled: false\ncpu: {reclaimWatermarkPercent: 120}\n",
			s:    Switch{Enabled: true},
			err:  "invalid before the edit",
		},
		{
			name: "a result that would not validate is refused",
			doc:  prodSLO,
			s:    Switch{Host: "not a label value!"},
			err:  "invalid after the edit",
		},
		{
			name: "a document that is not a mapping is refused",
			doc:  "- enabled\n",
			s:    Switch{},
			err:  "invalid before the edit",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, notes, err := EditSwitch([]byte(tc.doc), tc.s)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("EditSwitch err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("EditSwitch: %v", err)
			}
			want := tc.want
			if tc.unchanged {
				want = tc.doc
			}
			if string(got) != want {
				t.Errorf("EditSwitch =\n%s\nwant\n%s", got, want)
			}
			all := strings.Join(notes, "\n")
			for _, n := range tc.notes {
				if !strings.Contains(all, n) {
					t.Errorf("notes %q lack %q", notes, n)
				}
			}
			checkSwitched(t, got, tc.s)
		})
	}
}

// checkSwitched fails unless doc is a valid NodeSLO in which s is in force.
func checkSwitched(t *testing.T, doc []byte, s Switch) {
	t.Helper()
	slo, err := config.Parse(doc)
	if err != nil {
		t.Fatalf("result does not parse: %v\n%s", err, doc)
	}
	if s.Host == "" {
		if s.Enabled != *slo.Enabled {
			t.Errorf("top-level enabled = %t, want %t\n%s", *slo.Enabled, s.Enabled, doc)
		}
		return
	}
	on, err := EnabledOn(slo, s.labels())
	if err != nil {
		t.Fatalf("EnabledOn: %v", err)
	}
	if on != s.Enabled {
		t.Errorf("node %s enabled = %t, want %t\n%s", s.Host, on, s.Enabled, doc)
	}
}

// FuzzEditSwitch feeds arbitrary NodeSLO documents to EditSwitch.
// Invariants: no panic; an accepted document gives a valid NodeSLO in which
// the switch is in force (unless the document's overrides conflict for the
// node, which ForNode reports); a second identical switch changes nothing.
func FuzzEditSwitch(f *testing.F) {
	f.Add([]byte(prodSLO), "", false)
	f.Add([]byte(prodSLO), "n1", true)
	f.Add([]byte("enabled: false\nnodes:\n- selector: {matchLabels: {kubernetes.io/hostname: n1}}\n  enabled: true\n"), "n1", false)
	f.Add([]byte(""), "n1", true)
	f.Add([]byte(""), "Y", false)
	f.Add([]byte("\x00\xff garbage: [ {"), "", true)
	f.Fuzz(func(t *testing.T, doc []byte, host string, enabled bool) {
		s := Switch{Enabled: enabled, Host: host}
		got, _, err := EditSwitch(doc, s)
		if err != nil {
			return
		}
		slo, err := config.Parse(got)
		if err != nil {
			t.Fatalf("accepted edit does not parse: %v\n%s", err, got)
		}
		if host == "" {
			if *slo.Enabled != enabled {
				t.Fatalf("top-level enabled = %t, want %t\n%s", *slo.Enabled, enabled, got)
			}
		} else if on, err := EnabledOn(slo, s.labels()); err == nil && on != enabled {
			t.Fatalf("node %q enabled = %t, want %t\n%s", host, on, enabled, got)
		}
		again, _, err := EditSwitch(got, s)
		if err != nil {
			t.Fatalf("second EditSwitch: %v", err)
		}
		if string(again) != string(got) {
			t.Fatalf("second EditSwitch changed\n%s\ninto\n%s", got, again)
		}
	})
}

package cgroup

import (
	"strings"
	"testing"
)

func TestDetectLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		groups  []string
		hint    string
		want    Layout
		wantErr string
	}{
		{
			name: "cgroupfs", groups: []string{"kubepods"},
			want: Layout{Driver: Cgroupfs, Kubepods: "kubepods", Burstable: "kubepods/burstable", Besteffort: "kubepods/besteffort"},
		},
		{
			name: "systemd", groups: []string{"kubepods.slice"},
			want: Layout{Driver: Systemd, Kubepods: "kubepods.slice", Burstable: "kubepods.slice/kubepods-burstable.slice", Besteffort: "kubepods.slice/kubepods-besteffort.slice"},
		},
		{
			name: "cgroupfs preferred when both exist", groups: []string{"kubepods", "kubepods.slice"},
			want: Layout{Driver: Cgroupfs, Kubepods: "kubepods", Burstable: "kubepods/burstable", Besteffort: "kubepods/besteffort"},
		},
		{
			name: "nested cgroupfs hint", groups: []string{"bigbox-demo-x/kubepods"}, hint: "bigbox-demo-x/kubepods",
			want: Layout{Driver: Cgroupfs, Kubepods: "bigbox-demo-x/kubepods", Burstable: "bigbox-demo-x/kubepods/burstable", Besteffort: "bigbox-demo-x/kubepods/besteffort"},
		},
		{
			name: "nested systemd hint", groups: []string{"demo.slice/kubepods.slice"}, hint: "/demo.slice/kubepods.slice/",
			want: Layout{Driver: Systemd, Kubepods: "demo.slice/kubepods.slice", Burstable: "demo.slice/kubepods.slice/kubepods-burstable.slice", Besteffort: "demo.slice/kubepods.slice/kubepods-besteffort.slice"},
		},
		{name: "nothing", groups: []string{"system.slice"}, wantErr: "neither kubepods nor kubepods.slice"},
		{name: "hint missing", groups: []string{"kubepods"}, hint: "other", wantErr: "does not exist"},
		{name: "hint escapes", hint: "../kubepods", wantErr: "not allowed"},
	}
	for _, sh := range shapes {
		for _, tt := range tests {
			t.Run(sh.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ft := sh.new(t)
				for _, g := range tt.groups {
					ft.mkdir(ft.rel(CPU, g, ""))
				}
				got, err := DetectLayout(ft.open(), tt.hint)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("DetectLayout = %+v, %v; want error containing %q", got, err, tt.wantErr)
					}
					return
				}
				if err != nil || got != tt.want {
					t.Fatalf("DetectLayout = %+v, %v; want %+v", got, err, tt.want)
				}
			})
		}
	}
}

func TestPodGroup(t *testing.T) {
	t.Parallel()
	const uid = "8dbc5c3a-1f2b-4c55-9a0e-2f6d3c1b7e90"
	cgroupfs := NewLayout("kubepods")
	systemd := NewLayout("kubepods.slice")
	nested := NewLayout("bigbox-demo-x/kubepods")
	tests := []struct {
		name   string
		layout Layout
		qos    string
		uid    string
		want   string
	}{
		{"cgroupfs guaranteed", cgroupfs, "Guaranteed", uid, "kubepods/pod" + uid},
		{"cgroupfs burstable", cgroupfs, "burstable", uid, "kubepods/burstable/pod" + uid},
		{"cgroupfs besteffort", cgroupfs, "BestEffort", uid, "kubepods/besteffort/pod" + uid},
		{"nested besteffort", nested, "besteffort", uid, "bigbox-demo-x/kubepods/besteffort/pod" + uid},
		{"systemd guaranteed", systemd, "Guaranteed", uid, "kubepods.slice/kubepods-pod8dbc5c3a_1f2b_4c55_9a0e_2f6d3c1b7e90.slice"},
		{"systemd burstable", systemd, "Burstable", uid, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8dbc5c3a_1f2b_4c55_9a0e_2f6d3c1b7e90.slice"},
		{"systemd besteffort", systemd, "BestEffort", uid, "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod8dbc5c3a_1f2b_4c55_9a0e_2f6d3c1b7e90.slice"},
		{"static pod hash uid", systemd, "Burstable", "6e0b2c3c1f6b8c2ee0cd2bf4e1f2c3d4", "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6e0b2c3c1f6b8c2ee0cd2bf4e1f2c3d4.slice"},
		{"unknown class", cgroupfs, "platinum", uid, ""},
		{"empty uid", systemd, "Burstable", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.layout.PodGroup(tt.qos, tt.uid)
			if got != tt.want {
				t.Fatalf("PodGroup(%q, %q) = %q, want %q", tt.qos, tt.uid, got, tt.want)
			}
			if got == "" {
				return
			}
			back, ok := PodUID(got)
			if !ok || back != tt.uid {
				t.Errorf("PodUID(%q) = %q, %v; want %q", got, back, ok, tt.uid)
			}
		})
	}
}

func TestPodUID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		want   string
		wantOK bool
	}{
		{"cgroupfs", "pod8dbc5c3a-1f2b-4c55-9a0e-2f6d3c1b7e90", "8dbc5c3a-1f2b-4c55-9a0e-2f6d3c1b7e90", true},
		{"cgroupfs path", "kubepods/besteffort/podabc-def", "abc-def", true},
		{"systemd besteffort", "kubepods-besteffort-pod8dbc5c3a_1f2b_4c55_9a0e_2f6d3c1b7e90.slice", "8dbc5c3a-1f2b-4c55-9a0e-2f6d3c1b7e90", true},
		{"systemd guaranteed", "kubepods-podabc_def.slice", "abc-def", true},
		{"qos group cgroupfs", "besteffort", "", false},
		{"qos group systemd", "kubepods-besteffort.slice", "", false},
		{"container scope", "cri-containerd-0123abcd.scope", "", false},
		{"container dir", "0123456789abcdef", "", false},
		{"pod only", "pod", "", false},
		{"systemd empty uid", "kubepods-pod.slice", "", false},
		{"systemd dashes in uid", "kubepods-podabc-def.slice", "", false},
		{"trailing separator", "podabc-", "", false},
		{"bad chars", "pod../x", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := PodUID(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("PodUID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

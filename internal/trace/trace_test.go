package trace

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tracesDir holds the shared real traces, relative to this package.
const tracesDir = "../../testdata/traces"

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		column  Column
		times   []int64
		values  []float64
		wantErr string
	}{
		{name: "cpu_util", in: "timestamp_s,cpu_util\n10,0.5\n20,0.25\n", column: ColumnCPUUtil, times: []int64{10, 20}, values: []float64{0.5, 0.25}},
		{name: "value", in: "timestamp_s,value\n1628640000,39.722330\n1628640060,151.1", column: ColumnValue, times: []int64{1628640000, 1628640060}, values: []float64{39.72233, 151.1}},
		{name: "crlf", in: "timestamp_s,value\r\n1,2\r\n", column: ColumnValue, times: []int64{1}, values: []float64{2}},
		{name: "gap kept", in: "timestamp_s,value\n0,1\n900,2\n", column: ColumnValue, times: []int64{0, 900}, values: []float64{1, 2}},
		{name: "empty", in: "", wantErr: "empty input"},
		{name: "header only", in: "timestamp_s,value\n", wantErr: "no data rows"},
		{name: "unknown column", in: "timestamp_s,mem_bytes\n1,2\n", wantErr: "unknown value column"},
		{name: "bad first column", in: "ts,value\n1,2\n", wantErr: "want timestamp_s"},
		{name: "three cells", in: "timestamp_s,value\n1,2,3\n", wantErr: "wrong number of fields"},
		{name: "one cell", in: "timestamp_s,value\n1\n", wantErr: "wrong number of fields"},
		{name: "fractional timestamp", in: "timestamp_s,value\n1.5,2\n", wantErr: "timestamp"},
		{name: "negative timestamp", in: "timestamp_s,value\n-1,2\n", wantErr: "out of range"},
		{name: "huge timestamp", in: "timestamp_s,value\n9223372036854775807,2\n", wantErr: "out of range"},
		{name: "duplicate timestamp", in: "timestamp_s,value\n1,2\n1,3\n", wantErr: "not after"},
		{name: "decreasing timestamp", in: "timestamp_s,value\n2,2\n1,3\n", wantErr: "not after"},
		{name: "empty value", in: "timestamp_s,value\n1,\n", wantErr: "value"},
		{name: "text value", in: "timestamp_s,value\n1,abc\n", wantErr: "value"},
		{name: "nan", in: "timestamp_s,value\n1,NaN\n", wantErr: "finite"},
		{name: "inf", in: "timestamp_s,value\n1,+Inf\n", wantErr: "finite"},
		{name: "negative value", in: "timestamp_s,value\n1,-0.1\n", wantErr: "non-negative"},
		{name: "cpu_util above one", in: "timestamp_s,cpu_util\n1,1.01\n", wantErr: "above 1"},
		{name: "bad quote", in: "timestamp_s,value\n1,\"2\n", wantErr: "read row"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if s.Column != tc.column {
				t.Errorf("Column = %q, want %q", s.Column, tc.column)
			}
			if len(s.Samples) != len(tc.times) {
				t.Fatalf("got %d samples, want %d", len(s.Samples), len(tc.times))
			}
			for i, x := range s.Samples {
				if x.Time.Unix() != tc.times[i] || x.Value != tc.values[i] {
					t.Errorf("sample %d = (%d, %v), want (%d, %v)", i, x.Time.Unix(), x.Value, tc.times[i], tc.values[i])
				}
			}
		})
	}
}

// TestParseFiles parses every shared trace and checks it against the facts
// stated in testdata/traces/README.md.
func TestParseFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		column   Column
		samples  int
		interval time.Duration
		max      float64
	}{
		{file: "nab-ec2_cpu_utilization_5f5533.csv", column: ColumnCPUUtil, samples: 4032, interval: 300 * time.Second, max: 0.68092},
		{file: "nab-ec2_cpu_utilization_fe7f93.csv", column: ColumnCPUUtil, samples: 4032, interval: 300 * time.Second, max: 0.99668},
		{file: "nab-rds_cpu_utilization_e47b3b.csv", column: ColumnCPUUtil, samples: 4032, interval: 300 * time.Second, max: 0.7623},
		{file: "crane-input0.csv", column: ColumnValue, samples: 11520, interval: time.Minute, max: 151.09702},
		{file: "crane-input11.csv", column: ColumnValue, samples: 23040, interval: time.Minute, max: 18.48252},
		{file: "crane-input8.csv", column: ColumnValue, samples: 23040, interval: time.Minute, max: 674.53729},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(filepath.Join(tracesDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := Parse(f)
			if err != nil {
				t.Fatalf("Parse(%s) error = %v", tc.file, err)
			}
			if s.Column != tc.column {
				t.Errorf("Column = %q, want %q", s.Column, tc.column)
			}
			if len(s.Samples) != tc.samples {
				t.Errorf("got %d samples, want %d", len(s.Samples), tc.samples)
			}
			if got := s.Max(); math.Abs(got-tc.max) > 1e-9 {
				t.Errorf("Max() = %v, want %v", got, tc.max)
			}
			for i := 1; i < len(s.Samples); i++ {
				if d := s.Samples[i].Time.Sub(s.Samples[i-1].Time); d != tc.interval {
					t.Fatalf("step %d is %v, want %v (README says no gaps)", i, d, tc.interval)
				}
			}
		})
	}
}

// format writes a series back as a trace file.
func format(s Series) []byte {
	var b bytes.Buffer
	b.WriteString("timestamp_s," + string(s.Column) + "\n")
	for _, x := range s.Samples {
		b.WriteString(strconv.FormatInt(x.Time.Unix(), 10) + "," + strconv.FormatFloat(x.Value, 'g', -1, 64) + "\n")
	}
	return b.Bytes()
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("timestamp_s,cpu_util\n1392388020,0.51846000000000004\n1392388320,0.44508\n"))
	f.Add([]byte("timestamp_s,value\n1628640000,39.722330\n1628640060,39.821460"))
	f.Add([]byte("timestamp_s,value\r\n1,2\r\n"))
	f.Add([]byte("timestamp_s,value\n1,NaN\n"))
	f.Add([]byte("timestamp_s,value\n2,1\n1,1\n"))
	f.Add([]byte("ts,value\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Parse(bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(s.Samples) == 0 {
			t.Fatal("Parse() returned no samples and no error")
		}
		for i, x := range s.Samples {
			if math.IsNaN(x.Value) || math.IsInf(x.Value, 0) || x.Value < 0 {
				t.Fatalf("sample %d value %v is not finite and non-negative", i, x.Value)
			}
			if i > 0 && !x.Time.After(s.Samples[i-1].Time) {
				t.Fatalf("sample %d time %v not after %v", i, x.Time, s.Samples[i-1].Time)
			}
		}
		again, err := Parse(bytes.NewReader(format(s)))
		if err != nil {
			t.Fatalf("round trip: Parse() error = %v", err)
		}
		if again.Column != s.Column || len(again.Samples) != len(s.Samples) {
			t.Fatalf("round trip changed the series: %d samples of %q, want %d of %q", len(again.Samples), again.Column, len(s.Samples), s.Column)
		}
		for i := range s.Samples {
			if !again.Samples[i].Time.Equal(s.Samples[i].Time) || again.Samples[i].Value != s.Samples[i].Value {
				t.Fatalf("round trip changed sample %d: %v, want %v", i, again.Samples[i], s.Samples[i])
			}
		}
	})
}

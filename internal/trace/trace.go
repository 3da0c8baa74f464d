// Package trace reads the usage traces kept in testdata/traces (see its
// README.md): CSV files with a header row `timestamp_s,cpu_util` (CPU
// utilisation as a fraction of capacity, 0..1) or `timestamp_s,value` (a
// unit-less load curve), Unix seconds, rows strictly increasing in time.
package trace

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/predict"
)

// Column names the value column of a trace file.
type Column string

// Value columns a trace can have.
const (
	// ColumnCPUUtil is CPU utilisation as a fraction of capacity, 0..1.
	ColumnCPUUtil Column = "cpu_util"
	// ColumnValue is an upstream number whose unit is not documented.
	ColumnValue Column = "value"
)

// Series is one parsed trace.
type Series struct {
	Column  Column
	Samples []predict.Sample
}

// Max returns the largest value of the series (zero when it is empty).
func (s Series) Max() float64 {
	var m float64
	for _, x := range s.Samples {
		m = max(m, x.Value)
	}
	return m
}

// Parse reads a trace. It returns an error, naming the line, for a missing
// or unknown header, a row without exactly two cells, a timestamp that is not
// a whole number of seconds or does not increase, a value that is not a
// finite non-negative number (or above 1 in a cpu_util column), and for a file
// without any data row.
func Parse(r io.Reader) (Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Series{}, errors.New("trace: empty input, want a header row")
		}
		return Series{}, fmt.Errorf("trace: read header: %w", err)
	}
	if header[0] != "timestamp_s" {
		return Series{}, fmt.Errorf("trace: header starts with %q, want timestamp_s", header[0])
	}
	var s Series
	switch c := Column(header[1]); c {
	case ColumnCPUUtil, ColumnValue:
		s.Column = c
	default:
		return Series{}, fmt.Errorf("trace: unknown value column %q, want %s or %s", header[1], ColumnCPUUtil, ColumnValue)
	}
	var last int64
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Series{}, fmt.Errorf("trace: read row: %w", err)
		}
		line, _ := cr.FieldPos(0)
		ts, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil {
			return Series{}, fmt.Errorf("trace: line %d: timestamp %q: %w", line, rec[0], err)
		}
		// Keep time.Unix away from values whose nanoseconds overflow int64.
		if ts < 0 || ts > math.MaxInt64/int64(time.Second) {
			return Series{}, fmt.Errorf("trace: line %d: timestamp %d out of range", line, ts)
		}
		if len(s.Samples) > 0 && ts <= last {
			return Series{}, fmt.Errorf("trace: line %d: timestamp %d not after %d", line, ts, last)
		}
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			return Series{}, fmt.Errorf("trace: line %d: value %q: %w", line, rec[1], err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return Series{}, fmt.Errorf("trace: line %d: value %q is not a finite non-negative number", line, rec[1])
		}
		if s.Column == ColumnCPUUtil && v > 1 {
			return Series{}, fmt.Errorf("trace: line %d: cpu_util %q above 1", line, rec[1])
		}
		last = ts
		s.Samples = append(s.Samples, predict.Sample{Time: time.Unix(ts, 0).UTC(), Value: v})
	}
	if len(s.Samples) == 0 {
		return Series{}, errors.New("trace: no data rows")
	}
	return s, nil
}

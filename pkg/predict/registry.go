package predict

import (
	"fmt"
	"time"
)

// windowMaxWindow is the look-back of the window-max baseline.
const windowMaxWindow = time.Hour

// The default safety knobs, shared by the agent (internal/forecast, through
// the NodeSLO) and the simulator. A margin is given as a share of the
// resource's capacity and multiplied by it before New, which takes base
// units; the percentile is that of "decaying-histogram". Why 5%: it keeps the
// default predictor between the 1% and 5% violation targets on the shared
// traces (docs/prediction.md).
const (
	DefaultMarginFraction = 0.05
	DefaultPercentile     = 0.99
)

// Names lists the predictors New can build, "default" first. The oracle is
// not among them: it needs the whole series (NewOracle).
func Names() []string {
	return []string{"default", "decaying-histogram", "seasonal", "burst-guard", "static", "window-max"}
}

// New builds a predictor by name with its safety knob and horizon; other
// parameters take their defaults. The knob is a percentile in (0, 1] for
// "decaying-histogram", and a margin in the resource's base unit for the
// others.
func New(name string, knob float64, horizon time.Duration) (Predictor, error) {
	if !(knob >= 0) || knob > 1e300 {
		return nil, fmt.Errorf("predictor %s: knob %v is not a finite non-negative number", name, knob)
	}
	if horizon <= 0 {
		return nil, fmt.Errorf("predictor %s: horizon %v is not positive", name, horizon)
	}
	percentile := func() error {
		if knob <= 0 || knob > 1 {
			return fmt.Errorf("predictor %s: percentile %v not in (0, 1]", name, knob)
		}
		return nil
	}
	switch name {
	case "default":
		return NewDefault(DefaultConfig{Horizon: horizon, Margin: knob}), nil
	case "decaying-histogram":
		if err := percentile(); err != nil {
			return nil, err
		}
		return NewDecayingHistogram(DecayingHistogramConfig{Horizon: horizon, Percentile: knob}), nil
	case "seasonal":
		return NewSeasonal(SeasonalConfig{Horizon: horizon, Margin: knob}), nil
	case "burst-guard":
		return NewBurstGuard(BurstGuardConfig{Horizon: horizon, Margin: knob}), nil
	case "static":
		return NewStatic(knob), nil
	case "window-max":
		return NewWindowMax(windowMaxWindow, knob), nil
	default:
		return nil, fmt.Errorf("unknown predictor %q, want one of %v", name, Names())
	}
}

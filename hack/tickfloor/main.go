// Command tickfloor does nothing but wake every -interval: the floor of what
// any Go process polling at the agent's CPU loop rate costs on a machine.
// hack/bench-agent.sh measures it beside the agent.
package main

import (
	"flag"
	"time"
)

func main() {
	interval := flag.Duration("interval", 50*time.Millisecond, "wake-up period")
	flag.Parse()
	t := time.NewTicker(*interval)
	for range t.C {
	}
}

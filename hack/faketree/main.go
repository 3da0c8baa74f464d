// Command faketree writes a kubelet-shaped fake cgroup tree for benchmarks:
// faketree -dir DIR -version 1 -online 20 -offline 180.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bigbox-dev/bigbox/internal/faketree"
)

func main() {
	dir := flag.String("dir", "", "directory to write the tree into (created)")
	var s faketree.Spec
	flag.IntVar(&s.Version, "version", 1, "cgroup version, 1 or 2")
	flag.IntVar(&s.OnlinePods, "online", 20, "burstable (online) pods")
	flag.IntVar(&s.OfflinePods, "offline", 180, "besteffort (offline) pods")
	flag.IntVar(&s.CPUs, "cpus", 2, "CPUs in the root cpuset")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "faketree: -dir is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "faketree:", err)
		os.Exit(1)
	}
	if err := faketree.Write(*dir, s); err != nil {
		fmt.Fprintln(os.Stderr, "faketree:", err)
		os.Exit(1)
	}
}

package cgroup

// Driver is the kubelet's cgroup driver.
type Driver string

// Kubelet cgroup drivers.
const (
	Cgroupfs Driver = "cgroupfs"
	Systemd  Driver = "systemd"
)

// Layout is where the kubelet keeps pods in one hierarchy.
type Layout struct {
	Driver Driver
	// Kubepods, Burstable and Besteffort are group paths relative to each
	// hierarchy root, e.g. "kubepods", "kubepods/burstable",
	// "kubepods/besteffort" (cgroupfs) or "kubepods.slice",
	// "kubepods.slice/kubepods-burstable.slice",
	// "kubepods.slice/kubepods-besteffort.slice" (systemd).
	Kubepods, Burstable, Besteffort string
}

// DetectLayout finds the kubepods parent: the given group when not empty
// (its driver told by its name), otherwise "kubepods" or "kubepods.slice",
// whichever exists.
func DetectLayout(f *FS, kubepods string) (Layout, error) { return Layout{}, errTODO }

// PodGroup names the cgroup of the pod with uid in the QoS class
// ("guaranteed", "burstable" or "besteffort") as the kubelet does.
func (l Layout) PodGroup(qosClass, uid string) string { return "" }

// PodUID returns the pod UID encoded in a pod cgroup's name ("pod<uid>" or
// "kubepods-<qos>-pod<uid_with_underscores>.slice"), and false for any other
// name.
func PodUID(name string) (string, bool) { return "", false }

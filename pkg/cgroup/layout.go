package cgroup

import (
	"fmt"
	"strings"
)

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

const sliceSuffix = ".slice"

// DetectLayout finds the kubepods parent: the given group when not empty
// (its driver told by its name), otherwise "kubepods" or "kubepods.slice",
// whichever exists.
//
// A given group may be nested ("bigbox-demo-x/kubepods"); it is systemd
// when its last element ends in ".slice", cgroupfs otherwise. The group
// must exist.
func DetectLayout(f *FS, kubepods string) (Layout, error) {
	if kubepods == "" {
		for _, g := range []string{"kubepods", "kubepods" + sliceSuffix} {
			if f.Exists(g) {
				return NewLayout(g), nil
			}
		}
		return Layout{}, fmt.Errorf("detect layout: neither kubepods nor kubepods.slice exists under %s", f.Path(f.listController(), ""))
	}
	kubepods = strings.Trim(kubepods, "/")
	if err := checkGroup(kubepods); err != nil {
		return Layout{}, fmt.Errorf("detect layout: %w", err)
	}
	if !f.Exists(kubepods) {
		return Layout{}, fmt.Errorf("detect layout: kubepods group %s does not exist", f.Path(f.listController(), kubepods))
	}
	return NewLayout(kubepods), nil
}

// NewLayout names the QoS groups under kubepods as the kubelet does,
// without looking at the hierarchy: the driver is systemd when kubepods'
// last element ends in ".slice".
func NewLayout(kubepods string) Layout {
	base := kubepods[strings.LastIndexByte(kubepods, '/')+1:]
	if name, ok := strings.CutSuffix(base, sliceSuffix); ok {
		// systemd nests a slice's children under its name with "-"
		// (kubepods.slice → kubepods-burstable.slice).
		return Layout{
			Driver:     Systemd,
			Kubepods:   kubepods,
			Burstable:  kubepods + "/" + name + "-burstable" + sliceSuffix,
			Besteffort: kubepods + "/" + name + "-besteffort" + sliceSuffix,
		}
	}
	return Layout{
		Driver:     Cgroupfs,
		Kubepods:   kubepods,
		Burstable:  kubepods + "/burstable",
		Besteffort: kubepods + "/besteffort",
	}
}

// PodGroup names the cgroup of the pod with uid in the QoS class
// ("guaranteed", "burstable" or "besteffort", any case, as in
// v1.PodQOSClass) as the kubelet does; "" for an unknown class or an empty
// uid.
//
//	cgroupfs: kubepods/pod<uid>, kubepods/burstable/pod<uid>, …
//	systemd:  kubepods.slice/kubepods-pod<uid_>.slice,
//	          kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice
//
// where uid_ is the uid with "-" replaced by "_" (systemd reserves "-" for
// nesting).
func (l Layout) PodGroup(qosClass, uid string) string {
	if uid == "" {
		return ""
	}
	var parentGroup string
	switch strings.ToLower(qosClass) {
	case "guaranteed":
		parentGroup = l.Kubepods
	case "burstable":
		parentGroup = l.Burstable
	case "besteffort":
		parentGroup = l.Besteffort
	default:
		return ""
	}
	if l.Driver != Systemd {
		return parentGroup + "/pod" + uid
	}
	slice := parentGroup[strings.LastIndexByte(parentGroup, '/')+1:]
	prefix := strings.TrimSuffix(slice, sliceSuffix)
	return parentGroup + "/" + prefix + "-pod" + strings.ReplaceAll(uid, "-", "_") + sliceSuffix
}

// PodUID returns the pod UID encoded in a pod cgroup's name ("pod<uid>" or
// "kubepods-<qos>-pod<uid_with_underscores>.slice"), and false for any other
// name. A full group path is accepted; only its last element is looked at.
// The UID is returned with dashes.
func PodUID(name string) (string, bool) {
	name = name[strings.LastIndexByte(name, '/')+1:]
	if slice, ok := strings.CutSuffix(name, sliceSuffix); ok {
		i := strings.LastIndex(slice, "-pod")
		if i < 0 {
			return "", false
		}
		uid := slice[i+len("-pod"):]
		if !validUID(uid, '_') {
			return "", false
		}
		return strings.ReplaceAll(uid, "_", "-"), true
	}
	uid, ok := strings.CutPrefix(name, "pod")
	if !ok || !validUID(uid, '-') {
		return "", false
	}
	return uid, true
}

// validUID accepts what the kubelet puts in pod cgroup names: UUIDs and the
// hex hashes of static pods, with sep between groups.
func validUID(uid string, sep byte) bool {
	if uid == "" || uid[0] == sep || uid[len(uid)-1] == sep {
		return false
	}
	for i := range len(uid) {
		c := uid[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == sep:
		default:
			return false
		}
	}
	return true
}

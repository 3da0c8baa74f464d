package deviceplugin

import (
	"slices"
	"strconv"

	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

// MaxDevices bounds the device list, so that one ListAndWatchResponse stays
// under 1 MiB even with every device unhealthy (about 20 bytes a device; see
// TestListAndWatchSize). That is 5000 cores at 100 millicores a device and
// 3 TiB at 64 MiB; larger nodes need a larger unit size. The list is cut only
// above the held devices, never below.
const MaxDevices = 50000

// maxIndexID is the largest device index this plugin generates; held IDs
// that parse to larger numbers (or not at all) come from elsewhere and are
// kept verbatim.
const maxIndexID = 1 << 20

// Device IDs are decimal indexes "0", "1", …: stable (a device keeps its ID
// while it exists), unique, and short, which keeps the largest list small.

// deviceIndex returns the index of a device ID this plugin would generate.
func deviceIndex(id string) (int, bool) {
	i, err := strconv.Atoi(id)
	if err != nil || i < 0 || i >= maxIndexID || strconv.Itoa(i) != id {
		return 0, false
	}
	return i, true
}

// deviceCount is how many devices to list for the wanted units and the held
// IDs: never fewer than held, never more than MaxDevices unless held is.
func deviceCount(units int64, held int) int {
	n := max(units, 0)
	if n > MaxDevices {
		n = MaxDevices
	}
	return max(int(n), held)
}

// buildDevices returns the device list to advertise: every held ID, and the
// lowest free indexes until there are deviceCount(units, len(held)) devices.
// So a shrink removes the highest free IDs, and a device a running pod holds
// is never removed. Held devices are always Healthy: the kubelet refuses to
// restart a container whose devices are not healthy, and an unhealthy node
// should stop new offline pods, not break running ones. The other devices are
// Healthy only when healthy is true. held must be sorted and without
// duplicates.
func buildDevices(units int64, held []string, healthy bool) []*pluginapi.Device {
	n := deviceCount(units, len(held))
	free := n - len(held)
	health := pluginapi.Unhealthy
	if healthy {
		health = pluginapi.Healthy
	}

	var indexed []int // held IDs that are indexes, ascending
	var foreign []string
	for _, id := range held {
		if i, ok := deviceIndex(id); ok {
			indexed = append(indexed, i)
		} else {
			foreign = append(foreign, id)
		}
	}
	slices.Sort(indexed)

	devs := make([]*pluginapi.Device, 0, n)
	for i := 0; free > 0 || len(indexed) > 0; i++ {
		if len(indexed) > 0 && indexed[0] == i {
			indexed = indexed[1:]
			devs = append(devs, &pluginapi.Device{ID: strconv.Itoa(i), Health: pluginapi.Healthy})
			continue
		}
		if free > 0 {
			free--
			devs = append(devs, &pluginapi.Device{ID: strconv.Itoa(i), Health: health})
		}
	}
	for _, id := range foreign {
		devs = append(devs, &pluginapi.Device{ID: id, Health: pluginapi.Healthy})
	}
	return devs
}

// normalizeIDs returns ids sorted and without duplicates or empty strings.
func normalizeIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

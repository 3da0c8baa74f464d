#!/usr/bin/env bash
# Builds the pause image of the test cluster from hack/kube/pause into an
# OCI image layout tar, with tar, gzip and sha256sum only (no registry, no
# image builder). `ctr images import` takes the tar as it is.
#
# Usage: hack/kube/pause-image.sh OUT_DIR IMAGE_NAME
# Prints the path of the tar. The same source gives the same digests.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/kube/lib.sh
. "${here}/lib.sh"

(($# == 2)) || die "usage: $0 OUT_DIR IMAGE_NAME"
out=$1
image=$2
tag=${image##*:}

rm -rf "${out}"
mkdir -p "${out}/rootfs" "${out}/layout/blobs/sha256"
blobs=${out}/layout/blobs/sha256

arch=$(go env GOARCH)
(cd "${here}/../.." && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags '-s -w -buildid=' \
	-o "${out}/rootfs/pause" ./hack/kube/pause)

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
# put FILE: moves FILE into the blob store, prints its digest.
put() {
	local d
	d=$(sha "$1")
	mv "$1" "${blobs}/${d}"
	echo "${d}"
}

# One layer holding /pause, with fixed owner and times so digests repeat.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=posix \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "${out}/rootfs" -cf "${out}/layer.tar" pause
diff_id=$(sha "${out}/layer.tar")
gzip -n -9 "${out}/layer.tar"
layer_size=$(size "${out}/layer.tar.gz")
layer=$(put "${out}/layer.tar.gz")

cat >"${out}/config.json" <<JSON
{"architecture":"${arch}","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:${diff_id}"]},"history":[{"created_by":"hack/kube/pause-image.sh"}]}
JSON
config_size=$(size "${out}/config.json")
config=$(put "${out}/config.json")

cat >"${out}/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:${config}","size":${config_size}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:${layer}","size":${layer_size}}]}
JSON
manifest_size=$(size "${out}/manifest.json")
manifest=$(put "${out}/manifest.json")

echo '{"imageLayoutVersion":"1.0.0"}' >"${out}/layout/oci-layout"
cat >"${out}/layout/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${manifest}","size":${manifest_size},"platform":{"architecture":"${arch}","os":"linux"},"annotations":{"io.containerd.image.name":"${image}","org.opencontainers.image.ref.name":"${tag}"}}]}
JSON

tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
	-C "${out}/layout" -cf "${out}/pause-oci.tar" oci-layout index.json blobs
echo "${out}/pause-oci.tar"

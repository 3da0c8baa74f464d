# One image with the three bigbox binaries, static, on a distroless base:
#
#   /usr/local/bin/bigbox-agent    the node agent (the chart runs it as root: see below)
#   /usr/local/bin/bigbox-webhook  the admission webhook (runs as the image's user, 65532)
#   /usr/local/bin/bigboxctl       the operator CLI: kubectl exec ds/bigbox-agent -- bigboxctl status
#
# Build: `make image` (docker build -t $(IMAGE) .); multi-arch with
# `docker buildx build --platform linux/amd64,linux/arm64 -t ... .`.
# No test needs a container engine; docs/install.md has the details.

# The version go.mod's go directive asks for, or later.
ARG GO_VERSION=1.26.8

# Compile on the build machine's platform and cross-compile to the target:
# the binaries are pure Go (CGO_ENABLED=0), so no emulation is needed.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so that a source change reuses the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
COPY internal/ internal/
COPY pkg/ pkg/
ARG TARGETOS=linux
ARG TARGETARCH
# -trimpath and an empty build ID: the same source gives the same binaries.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -buildid=" -o /out/ \
      ./cmd/bigbox-agent ./cmd/bigbox-webhook ./cmd/bigboxctl

# distroless/static: no shell, no package manager, no libc; CA certificates,
# /etc/passwd with the nonroot user and the time zone database (the NodeSLO's
# timeZone) are in it.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# The webhook needs no privilege and runs as this user. The agent must run
# as root (uid 0 owns the cgroup files and the kubelet's sockets): the
# chart's DaemonSet sets runAsUser: 0 with every capability dropped except
# DAC_OVERRIDE and KILL (docs/install.md, "Privileges").
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/bigbox-agent"]

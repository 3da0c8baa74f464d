# bigbox — see README.md. Everything runs as root on Linux with cgroups.
GO        ?= go
BIN       := bin
PKGS      := ./...
DEMO_SECONDS ?= 120
export DEMO_SECONDS

IMAGE     ?= ghcr.io/bigbox-dev/bigbox:dev

.PHONY: all build test test-unit test-race test-integration kube-up kube-down demo bench lint deps clean image

all: build

deps: ## Go modules and the few Debian packages the tests and the demo need
	hack/deps.sh

build: deps
	$(GO) build -o $(BIN)/ ./cmd/... ./hack/demo
	ln -f $(BIN)/bigboxctl $(BIN)/kubectl-bigbox

lint: deps
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

test-unit: deps ## fast tests, no root needed (real-cgroup tests skip without it)
	$(GO) test -short -count=1 $(PKGS)

test-race: deps
	$(GO) test -race -short -count=1 $(PKGS)

test: lint ## every test: unit, fuzz seeds, real cgroups (root), race detector, demo smoke run, real Kubernetes
	$(GO) test -count=1 -timeout 20m $(PKGS)
	$(GO) test -race -short -count=1 -timeout 20m $(PKGS)
	$(MAKE) test-integration

test-integration: deps ## one-node Kubernetes 1.37 on loopback (root); the first run builds it (~15 min), later ones ~10 s
	hack/kube/test.sh

kube-up: ## start the test cluster by hand: eval "$$(make -s kube-up)"
	@hack/kube-up.sh

kube-down:
	hack/kube-down.sh

demo: build ## the main job: real cgroups, online service, offline burners, the agent (root)
	$(BIN)/demo --agent $(BIN)/bigbox-agent --out demo-out

bench: deps ## benchmarks; results go into docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)
	hack/bench-agent.sh

image: ## container image with the three binaries (needs docker; no test needs it)
	docker build -t $(IMAGE) .

clean:
	rm -rf $(BIN) demo-out

# bigbox — see README.md. Everything runs as root on Linux with cgroups.
GO        ?= go
BIN       := bin
PKGS      := ./...
DEMO_SECONDS ?= 120
export DEMO_SECONDS

.PHONY: all build test test-unit test-race demo bench lint deps clean

all: build

deps: ## Go modules and the few Debian packages the tests and the demo need
	hack/deps.sh

build: deps
	$(GO) build -o $(BIN)/ ./cmd/... ./hack/demo

lint: deps
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

test-unit: deps ## fast tests, no root needed (real-cgroup tests skip without it)
	$(GO) test -short -count=1 $(PKGS)

test-race: deps
	$(GO) test -race -short -count=1 $(PKGS)

test: lint ## every test: unit, fuzz seeds, real cgroups (root), race detector, demo smoke run
	$(GO) test -count=1 -timeout 20m $(PKGS)
	$(GO) test -race -short -count=1 -timeout 20m $(PKGS)

demo: build ## the main job: real cgroups, online service, offline burners, the agent (root)
	$(BIN)/demo --agent $(BIN)/bigbox-agent --out demo-out

bench: deps ## benchmarks; results go into docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)
	hack/bench-agent.sh

clean:
	rm -rf $(BIN) demo-out

# Basalt — run `make help` for the targets.

GO            ?= go
BIN           := bin
GOLANGCI      := $(BIN)/golangci-lint
GOLANGCI_VER  := v2.15.0
FUZZTIME      ?= 30s
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS       := -s -w -X main.version=$(VERSION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/basalt (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/basalt ./cmd/basalt

.PHONY: run
run: build ## Run Basalt on the embedded default (SQLite in ./basalt_data, http://127.0.0.1:8080)
	$(BIN)/basalt serve

.PHONY: test
test: check ## Run every check and test: gofmt, vet, lint, unit/integration/e2e tests with -race, fuzz seeds, benchmark smoke run
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -run='^$$' -bench=. -benchtime=1x -count=1 -timeout 10m ./...

.PHONY: check
check: fmt-check vet lint ## Static checks only

.PHONY: fmt-check
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needs to run on:"; echo "$$out"; exit 1; fi

.PHONY: vet
vet:
	$(GO) vet ./...

$(GOLANGCI):
	GOBIN=$(abspath $(BIN)) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VER)

.PHONY: lint
lint: $(GOLANGCI) ## Run golangci-lint with the repository's configuration
	$(GOLANGCI) run ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s $$pkg; \
	  done; \
	done

.PHONY: bench
bench: build ## Load-test Basalt against a hello-JSON reference (see docs/performance.md)
	$(GO) run ./bench/cmd/basalt-bench -basalt $(BIN)/basalt $(BENCHFLAGS)

.PHONY: bench-search
bench-search: build ## Load-test search only: vector indexes, full-text search on SQLite and PostgreSQL; exit 3 on a missed target
	$(GO) run ./bench/cmd/basalt-bench -basalt $(BIN)/basalt -scenarios vectors,search-text,search-text-pg -strict $(BENCHFLAGS)

.PHONY: clean
clean: ## Remove build output and the local data directory
	rm -rf $(BIN) basalt_data

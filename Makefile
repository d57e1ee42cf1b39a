# Basalt — run `make help` for the targets.

GO            ?= go
BIN           := bin
GOLANGCI      := $(BIN)/golangci-lint
GOLANGCI_VER  := v2.15.0
FUZZTIME      ?= 30s
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
# The commit and its date (UTC), so that the build date is the same on every
# build of a commit (reproducible builds).
COMMIT        ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE          ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
LDFLAGS       := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/basalt (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/basalt ./cmd/basalt

# The OCI image: static binaries for each platform and an image layout that
# crane or skopeo push as it is; no container engine needed.
IMAGE_DIR       ?= $(BIN)/image
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64

.PHONY: image
image: ## Build the OCI image into bin/image (no Docker needed): non-root, static, with an SBOM, for IMAGE_PLATFORMS
	@set -e; args=""; for p in $(IMAGE_PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
	  echo "building $(BIN)/$$os-$$arch/basalt"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/$$os-$$arch/basalt ./cmd/basalt; \
	  args="$$args -binary $$p=$(BIN)/$$os-$$arch/basalt"; \
	done; \
	$(GO) run ./deploy/cmd/basalt-image -out $(IMAGE_DIR) -version $(VERSION) -commit $(COMMIT) -created $(DATE) $$args

.PHONY: run
run: build ## Run Basalt on the embedded default (SQLite in ./basalt_data, http://127.0.0.1:8080)
	$(BIN)/basalt serve

.PHONY: test
test: check e2e/graphqlhttp/node_modules ## Run every check and test: gofmt, vet, lint, unit/integration/e2e tests with -race, fuzz seeds, benchmark smoke run, the Pulumi program's tests
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -run='^$$' -bench=. -benchtime=1x -count=1 -timeout 10m ./...
	$(MAKE) test-pulumi

# The Pulumi program is a module of its own, so that the main module (and
# the basalt binary) never pull in the Pulumi SDK; its tests run offline
# against mocks.
.PHONY: test-pulumi
test-pulumi: $(GOLANGCI) ## Vet, lint and test the Pulumi program (deploy/pulumi) offline with mocks
	@if grep -q pulumi go.mod; then echo "the main module requires the Pulumi SDK: keep it in deploy/pulumi"; exit 1; fi
	cd deploy/pulumi && $(GO) vet ./... && $(abspath $(GOLANGCI)) run ./... && $(GO) test -count=1 ./...

# The graphql-http audits' npm packages, pinned by their lock file.
e2e/graphqlhttp/node_modules: e2e/graphqlhttp/package.json e2e/graphqlhttp/package-lock.json
	cd e2e/graphqlhttp && npm ci --no-audit --no-fund --silent
	touch $@

.PHONY: check
check: fmt-check vet lint proto-check ui-check ## Static checks only

# The admin console (ui/admin): TypeScript and Preact, bundled by esbuild
# from packages pinned by the lock file. Its build is committed in
# internal/gateway/adminui/dist, so building Basalt needs no Node.js.
UI := ui/admin

$(UI)/node_modules: $(UI)/package.json $(UI)/package-lock.json
	cd $(UI) && npm ci --no-audit --no-fund --silent
	touch $@

.PHONY: ui
ui: $(UI)/node_modules ## Format, type-check and rebuild the admin console into internal/gateway/adminui/dist
	cd $(UI) && ./node_modules/.bin/prettier --log-level warn --write src test build.mjs && ./node_modules/.bin/tsc --noEmit -p . && node build.mjs

# The screenshots of docs/admin-ui.md, as the browser test takes them.
UI_SHOTS := 01-sign-in 03-collection-rule-refused 05-documents 06-filter-error 07-document-conflict 10-webhook-deliveries 11-api-key-created 14-account 15-status 17-phone-documents

.PHONY: ui-screenshots
ui-screenshots: ## Refresh the screenshots of docs/admin-ui.md from the admin console's browser test
	BASALT_TEST_ARTIFACTS=$(abspath $(BIN)/test-artifacts) $(GO) test -count=1 -run '^TestAdminConsole$$' ./e2e/
	for s in $(UI_SHOTS); do cp $(BIN)/test-artifacts/admin-ui/$$s.png docs/admin-ui/$$s.png; done

.PHONY: ui-check
ui-check: $(UI)/node_modules ## Check the admin console's formatting and types, run its unit tests, and check the committed build is what its sources give
	cd $(UI) && ./node_modules/.bin/prettier --check --log-level warn src test build.mjs && ./node_modules/.bin/tsc --noEmit -p . && node test/run.mjs
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd $(UI) && node build.mjs "$$tmp/dist") && \
	if ! diff -r "$$tmp/dist" internal/gateway/adminui/dist; then echo "internal/gateway/adminui/dist is not what ui/admin builds: run make ui and commit it"; exit 1; fi

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

.PHONY: prometheus-rules
prometheus-rules: ## Regenerate deploy/prometheus/slo.rules.yaml and deploy/argo/analysis-template.yaml from deploy/prometheus/slos.yaml
	$(GO) run ./cmd/basalt alerts rules --only slo --objectives deploy/prometheus/slos.yaml > deploy/prometheus/slo.rules.yaml.tmp
	mv deploy/prometheus/slo.rules.yaml.tmp deploy/prometheus/slo.rules.yaml
	$(GO) run ./cmd/basalt alerts analysis --objectives deploy/prometheus/slos.yaml > deploy/argo/analysis-template.yaml.tmp
	mv deploy/argo/analysis-template.yaml.tmp deploy/argo/analysis-template.yaml

# buf, pinned in its own module (it needs a pre-release of protobuf); the
# code generators are tools of the main module.
BUF := $(GO) tool -modfile=$(abspath tools/proto/go.mod) buf

.PHONY: proto
proto: ## Regenerate gen/ from the .proto files of proto/
	cd proto && $(BUF) lint && $(BUF) generate

.PHONY: proto-check
proto-check: ## Lint proto/, compare it with the last release (buf breaking) and check gen/ is what it generates
	cd proto && $(BUF) lint
	@tag=$$(git describe --tags --abbrev=0 --match 'v*' 2>/dev/null || true); \
	if [ -n "$$tag" ] && git cat-file -e "$$tag:proto/buf.yaml" 2>/dev/null; then \
	  echo "buf breaking against $$tag"; cd proto && $(BUF) breaking --against "../.git#tag=$$tag,subdir=proto"; \
	else echo "buf breaking: no release holds proto/ yet, nothing to compare"; fi
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	sed "s|out: ../gen|out: $$tmp/gen|" proto/buf.gen.yaml > "$$tmp/buf.gen.yaml"; \
	(cd proto && $(BUF) generate --template "$$tmp/buf.gen.yaml") && \
	if ! diff -r "$$tmp/gen" gen; then echo "gen/ is not what proto/ generates: run make proto and commit it"; exit 1; fi

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

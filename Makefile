# Lethe's build. `make run` and `make test` are the two commands a newcomer
# needs; both install what they need first (`make setup`).

SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

FUNCTIONS := $(notdir $(wildcard functions/*))
BINARIES := $(addprefix build/,$(addsuffix /bootstrap,$(FUNCTIONS)))
GO_SOURCES := $(shell find internal functions -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum
REGION ?= eu
DDB := scripts/dynamodb-local.sh
STRIPE := scripts/stripe-mock.sh
COGNITO := scripts/cognito-local.sh

.PHONY: setup build test validate synth deploy run bench fuzz clean

## setup: install the pinned npm tools into .tools and download Go modules.
setup: .tools/node_modules/.installed
	@go mod download

.tools/node_modules/.installed: .tools/package.json .tools/package-lock.json
	cd .tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## build: the Lambda binaries (linux/arm64, provided.al2023) and the lethe CLI.
build: $(BINARIES) build/lethe

build/%/bootstrap: $(GO_SOURCES)
	@mkdir -p $(dir $@)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $@ ./functions/$*

build/lethe: $(GO_SOURCES) $(shell find cmd -name '*.go' 2>/dev/null)
	@mkdir -p build
	go build -trimpath -o $@ ./cmd/lethe

## validate: every state machine file through asl-validator.
validate: setup
	asl-validator $(addprefix --json-path ,$(wildcard statemachines/*.asl.json))

## test: vet, unit tests, tests against local servers (DynamoDB Local, stripe-mock, cognito-local), the console's
## browser tests (Debian's chromium, installed when missing), infra tests on the synthesized templates.
test: setup build validate
	go vet ./...
	@set -euo pipefail; \
	chromium=$$(scripts/chromium.sh); \
	endpoint=$$($(DDB) start); \
	trap '$(DDB) stop; $(STRIPE) stop; $(COGNITO) stop' EXIT; \
	stripe=$$($(STRIPE) start); \
	cognito=$$($(COGNITO) start); \
	LETHE_CHROMIUM=$$chromium LETHE_DYNAMODB_ENDPOINT=$$endpoint LETHE_STRIPE_ENDPOINT=$$stripe LETHE_COGNITO_ENDPOINT=$$cognito go test -count=1 -timeout 20m ./...

## synth: synthesize every stack (each region's, and Lethe-edge when cdk.json places the edge) into cdk.out.
synth: setup build
	@rm -f cdk.out/*.template.json
	cdk synth --quiet
	@ls cdk.out/*.template.json

## deploy: deploy one stack, e.g. make deploy REGION=eu, or the edge: make deploy REGION=edge.
deploy: setup build
	cdk deploy Lethe-$(REGION)

## run: Lethe's main job on the embedded default (no AWS account): `lethe local` runs every region,
## files an erasure for alice in eu and shows it going through every subsystem, then keeps serving
## (console http://127.0.0.1:8080) until Ctrl-C. ARGS are passed to `lethe local`.
run: build/lethe
	@scripts/run-local.sh $(ARGS)

## bench: the figures: binary sizes, in-process benchmarks, synth time per region.
bench: setup build
	@echo "== Lambda binary sizes (stripped, linux/arm64)"
	@for b in $(BINARIES); do printf '%-40s %8d bytes\n' $$b $$(stat -c %s $$b); done
	@set -euo pipefail; \
	endpoint=$$($(DDB) start); \
	trap '$(DDB) stop' EXIT; \
	LETHE_DYNAMODB_ENDPOINT=$$endpoint go test -run '^$$' -bench . -benchmem ./internal/...
	@echo "== the Erasure machine on Lethe's engine and on aws-local-stepfunctions"
	LETHE_BENCH=1 go test -count=1 -run '^TestThroughputVersusNpmEngine$$' -v ./internal/asl/difftest/
	@echo "== P1: cost of one erasure (async times 1 h to 20 days), Lethe's poll back-off vs hourly polling"
	go test -count=1 -run '^$$' -bench PollingCost -benchtime 1x ./statemachines/
	@echo "== P1 with callbacks: the same workload when the async subsystems call back (sparse fallback checks)"
	go test -count=1 -run '^$$' -bench CallbackCost -benchtime 1x ./statemachines/
	@echo "== one erasure whose async subsystem is down for its first 3 days, next to the healthy case"
	go test -count=1 -run '^$$' -bench OutageCost -benchtime 1x ./statemachines/
	@echo "== P2: erasures/s and peak memory of lethe local (accelerated clock); P3: intake on loopback"
	go test -count=1 -run '^$$' -bench 'ErasureThroughput|Intake' -benchtime 1x -timeout 90m ./cmd/lethe/
	@echo "== synth time per stack"
	@for r in $$(go run ./infra/cmd/regions); do s=$$(date +%s.%N); cdk synth --quiet Lethe-$$r >/dev/null; e=$$(date +%s.%N); printf 'Lethe-%s %.1f s\n' $$r $$(echo "$$e - $$s" | bc); done

## fuzz: every fuzz target for FUZZTIME each (default 30s). A failing input is written to the
## package's testdata/fuzz/<Target>/, where `go test` (so make test) runs it from then on: commit it.
FUZZTIME ?= 30s
fuzz:
	@set -euo pipefail; \
	for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' cmd internal statemachines 2>/dev/null | xargs -n1 dirname | sort -u); do \
		for target in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== ./$$dir $$target ($(FUZZTIME))"; \
			go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) ./$$dir; \
		done; \
	done

clean:
	rm -rf build cdk.out

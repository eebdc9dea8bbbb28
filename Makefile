# vnum — make targets. `make demo` runs the demo, `make test` the test suite.
SHELL := /bin/bash
GO ?= go
PBX ?= asterisk
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test demo bench fuzz vet deps provision-check build

build:
	$(GO) build ./...

## deps: install the Debian packages the tests need (redis-server) when missing.
deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) || exit 1; \
	    systemctl disable --now redis-server >/dev/null 2>&1 || true; \
	  else \
	    echo "redis-server is missing: install the Debian package redis-server (sudo apt-get install redis-server)"; exit 1; \
	  fi; }

## test: the whole suite, with the race detector, against a real redis-server.
test: deps vet
	$(GO) test -race -count=1 -timeout 15m ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

## demo: vnumd against the PBX emulator with scripted calls (no PBX, no Redis needed).
demo:
	$(GO) run ./cmd/vnumdemo -pbx $(PBX)

## bench: the benchmarks whose figures are in the README.
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 3s ./routing/... ./ari/... ./esl/...

## fuzz: each fuzz target for FUZZTIME (default 20s).
FUZZTIME ?= 20s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

## provision-check: ansible syntax, lint, and a real converge into a throwaway chroot, twice.
provision-check:
	bash ansible/provision-check.sh

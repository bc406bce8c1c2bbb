# loanremind: make demo, make test, make bench.
GO      ?= go
BIN     := bin/loanremind
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# The one way the binary is built, here, in CI and in the Dockerfile: static,
# reproducible paths, time zone data embedded.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=$(VERSION)"

.PHONY: all build test vet fmt demo bench pg-binaries chromium promtool clean

all: build

build:
	$(GOBUILD) -o $(BIN) ./cmd/loanremind

# go vet, then every test against real PostgreSQL: DATABASE servers come from
# LOANREMIND_TEST_DATABASE_URL, a local server that answers, or a throwaway
# cluster the tests start themselves (see queries/pgtest). The console's
# end-to-end test drives a headless Chromium: without one it fails. The alert
# rules are checked and unit-tested with promtool (config/prometheus).
test: pg-binaries chromium promtool
	$(GO) vet ./...
	$(GO) test -race -timeout 30m ./...

fmt:
	gofmt -l -w .

# Starts a throwaway PostgreSQL, migrates, seeds 10,000 borrowers, runs the
# job and prints a report. DEMO_FLAGS=--keep leaves the cluster running.
demo: build pg-binaries
	./$(BIN) demo $(DEMO_FLAGS)

# The performance benchmarks: seeds 1,000,000 borrowers (and 250,000 for the
# memory-scaling check), runs the job and audit verify on what it wrote, times
# a server-side reference and prints the figures; then delivers 100,000
# messages through the http provider to a local gateway answering in 50 ms
# (`deliver --once`) and prints the rate and the sender's peak RSS; then the
# compliance console's page timings on a 1,000,000-borrower database and its
# run. Takes several minutes.
bench: build pg-binaries
	LOANREMIND_BIN=$(abspath $(BIN)) $(GO) test ./jobs -run '^$$' -bench '^BenchmarkFullRun$$' -benchtime 1x -timeout 3h -v
	LOANREMIND_BIN=$(abspath $(BIN)) $(GO) test ./jobs/deliver -run '^$$' -bench '^BenchmarkDeliver$$' -benchtime 1x -timeout 1h -v
	LOANREMIND_BIN=$(abspath $(BIN)) $(GO) test ./jobs/console -run '^$$' -bench '^BenchmarkConsolePages$$' -benchtime 1x -timeout 1h -v

# The PostgreSQL server binaries (initdb, pg_ctl) the tests and the demo need
# when no server is running.
pg-binaries:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		exit 0; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing PostgreSQL server binaries with apt-get..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
		echo "Installing PostgreSQL server binaries with sudo apt-get..."; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "PostgreSQL server binaries (initdb, pg_ctl) are missing." >&2; \
		echo "Install PostgreSQL 13 or later: on Debian/Ubuntu 'apt-get install postgresql'," >&2; \
		echo "on macOS 'brew install postgresql@15', or set LOANREMIND_TEST_DATABASE_URL / DATABASE_URL." >&2; \
		exit 1; \
	fi

# Chromium for the console's end-to-end test (jobs/console), installed like
# PostgreSQL: with apt-get when it can, else it says what to install.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "$$LOANREMIND_CHROMIUM" ]; then \
		exit 0; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing Chromium with apt-get..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
		echo "Installing Chromium with sudo apt-get..."; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is missing: the console's end-to-end test needs it." >&2; \
		echo "Install it ('apt-get install chromium' on Debian/Ubuntu) or set LOANREMIND_CHROMIUM to a Chrome or Chromium binary." >&2; \
		exit 1; \
	fi

# promtool checks and unit-tests the alert rules (config/prometheus): it
# comes with Debian's prometheus package.
promtool:
	@if command -v promtool >/dev/null 2>&1; then \
		exit 0; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing promtool (Debian's prometheus package) with apt-get..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
		echo "Installing promtool (Debian's prometheus package) with sudo apt-get..."; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	else \
		echo "promtool is missing: install Prometheus (Debian/Ubuntu 'apt-get install prometheus'," >&2; \
		echo "macOS 'brew install prometheus') to check config/prometheus/alerts.yaml." >&2; \
		exit 1; \
	fi

clean:
	rm -rf bin

# Steward: the two commands a newcomer needs are `make run` and `make test`.

CARGO        ?= cargo
GUEST_TARGET := wasm32-wasip2
GUEST_DIR    := target/guests
GUEST_OUT    := $(GUEST_DIR)/$(GUEST_TARGET)/plugin
# Shipped plugins: crate name = folder name under plugins/.
PLUGINS      := finance-sop significance-scorer pii-classifier
LISTEN       ?= 127.0.0.1:8080

.PHONY: run test setup plugins build build-debug bench clean

## Build everything (host + plugins) and start the server on the demo policies and plugins.
run: setup plugins build
	./target/release/steward serve --listen $(LISTEN) --policies policies --plugins plugins --data var

## Run the whole test suite (unit, plugin runtime, end to end over HTTP).
## `cargo test` covers the workspace default-members: every host crate and tests/.
test: setup plugins build-debug
	$(CARGO) test $(TEST_ARGS)

## Toolchain pieces the build needs (idempotent).
setup:
	@rustup target list --installed | grep -qx $(GUEST_TARGET) || rustup target add $(GUEST_TARGET)

## Build the shipped plugins into components and put each in its folder as plugin.wasm.
plugins: setup
	$(CARGO) build --target $(GUEST_TARGET) --profile plugin --target-dir $(GUEST_DIR) $(foreach p,$(PLUGINS),-p $(p))
	@for p in $(PLUGINS); do cp $(GUEST_OUT)/$$(echo $$p | tr - _).wasm plugins/$$p/plugin.wasm; done
	@echo "plugins built: $(PLUGINS)"

build:
	$(CARGO) build --release -p steward

build-debug:
	$(CARGO) build -p steward

## Benchmarks: decision latency and plugin call cost, SQL analysis + rewrite over
## TPC-H, /v1/query overhead over direct SQLite, then HTTP throughput of both endpoints.
bench: setup plugins build
	$(CARGO) bench -p steward --bench decide
	$(CARGO) bench -p steward-sql --bench tpch
	$(CARGO) bench -p steward --bench query
	./scripts/bench-http.sh
	./scripts/bench-query.sh

clean:
	$(CARGO) clean
	rm -rf var plugins/*/plugin.wasm

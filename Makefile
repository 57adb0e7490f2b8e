# Steward: the two commands a newcomer needs are `make run` and `make test`.

CARGO        ?= cargo
GUEST_TARGET := wasm32-wasip2
GUEST_DIR    := target/guests
GUEST_OUT    := $(GUEST_DIR)/$(GUEST_TARGET)/plugin
# Shipped Rust plugins: crate name = folder name under plugins/.
PLUGINS      := finance-sop significance-scorer pii-classifier suggest-alternatives
# Shipped Python and JavaScript plugins, built by `steward plugin build`.
POLYGLOT     := finance-sop-py pii-classifier-py finance-sop-js explore draft-access-request
# Python and JavaScript test guests (tests/polyglot), built the same way.
TEST_POLYGLOT := drifting-sop-py drifting-sop-js query-tool-py query-tool-js
# Every shipped plugin can reach finance/**, which policies/plugins.toml
# requires signed: `make plugins` signs them with the demo key.
SIGNED       := $(PLUGINS) $(POLYGLOT)
SIGNER_KEY   := policies/demo/plugin-signer.key
LISTEN       ?= 127.0.0.1:8080
# The steward binary that builds and signs plugins (`make run` uses the release one).
STEWARD      ?= target/debug/steward
# `make fuzz`: seconds per fuzz target (fuzz/fuzz_targets/*.rs).
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := sql token policy manifest cases

.PHONY: run test test-guests setup workloads plugins rust-plugins build build-debug bench fuzz clean

## Build everything (host + plugins) and start the server on the demo policies and plugins.
run: setup build
	$(MAKE) --no-print-directory plugins STEWARD=target/release/steward
	./target/release/steward serve --listen $(LISTEN) --policies policies --plugins plugins --data var

## Run the whole test suite (unit, plugin runtime, end to end over HTTP).
## `cargo test` covers the workspace default-members: every host crate and tests/.
test: setup build-debug workloads
	$(MAKE) --no-print-directory plugins test-guests STEWARD=target/debug/steward
	$(CARGO) test $(TEST_ARGS)

## Build the Python and JavaScript test guests (tests/polyglot/NAME/plugin.wasm).
test-guests: setup $(TEST_POLYGLOT:%=tests/polyglot/%/plugin.wasm)

## Fetch the TPC-DS queries and schema the SQL workload test runs
## (host/sql/tests/workloads.rs) into target/workloads/ (idempotent; not kept
## in the repository: they come from sqlglot's source distribution on PyPI).
workloads:
	./scripts/fetch-workloads.sh

## Toolchain pieces the build needs (idempotent): the Rust guest target,
## componentize-py (Python plugins), componentize-js (JavaScript plugins) and
## the MCP Python SDK (the MCP door's tests).
setup:
	@rustup target list --installed | grep -qx $(GUEST_TARGET) || rustup target add $(GUEST_TARGET)
	@command -v componentize-py >/dev/null || pip install -q -r sdk/python/requirements.txt
	@test -x sdk/js/node_modules/.bin/componentize-js || npm ci --prefix sdk/js --no-audit --no-fund
	@python3 -c "from mcp.client.streamable_http import streamable_http_client; import jsonschema" 2>/dev/null || pip install -q -r tests/mcp/requirements.txt

## Build the shipped plugins into components (plugins/NAME/plugin.wasm) and
## sign the finance ones with the demo key.
plugins: setup rust-plugins $(POLYGLOT:%=plugins/%/plugin.wasm) $(SIGNED:%=plugins/%/plugin.sig)
	@echo "plugins built: $(PLUGINS) $(POLYGLOT)"

rust-plugins: setup
	$(CARGO) build --target $(GUEST_TARGET) --profile plugin --target-dir $(GUEST_DIR) $(foreach p,$(PLUGINS),-p $(p))
	@for p in $(PLUGINS); do cmp -s $(GUEST_OUT)/$$(echo $$p | tr - _).wasm plugins/$$p/plugin.wasm || cp $(GUEST_OUT)/$$(echo $$p | tr - _).wasm plugins/$$p/plugin.wasm; done

# A Python or JavaScript plugin is rebuilt (~10 s) only when its sources,
# the SDK or the WIT change.
.SECONDEXPANSION:
$(POLYGLOT:%=plugins/%/plugin.wasm): plugins/%/plugin.wasm: $$(wildcard plugins/$$*/*.py plugins/$$*/*.js) plugins/%/plugin.toml \
		$(wildcard sdk/python/*.py sdk/js/*.js wit/*/*.wit) | $(STEWARD)
	$(STEWARD) plugin build plugins/$*

$(TEST_POLYGLOT:%=tests/polyglot/%/plugin.wasm): tests/polyglot/%/plugin.wasm: $$(wildcard tests/polyglot/$$*/*.py tests/polyglot/$$*/*.js) \
		tests/polyglot/%/plugin.toml $(wildcard sdk/python/*.py sdk/js/*.js wit/*/*.wit) | $(STEWARD)
	$(STEWARD) plugin build tests/polyglot/$*

plugins/%/plugin.sig: plugins/%/plugin.wasm $(SIGNER_KEY) | $(STEWARD)
	$(STEWARD) plugin sign plugins/$* --key $(SIGNER_KEY) --signer demo-finance

target/debug/steward:
	$(CARGO) build -p steward

target/release/steward:
	$(CARGO) build --release -p steward

build:
	$(CARGO) build --release -p steward

build-debug:
	$(CARGO) build -p steward

## Benchmarks: decision latency and plugin call cost, the same SOP in Rust,
## Python and JavaScript (build, size, load, latency), its cost with 1 and 100 callers,
## SQL analysis + rewrite over
## TPC-H, /v1/query overhead over direct SQLite, then HTTP throughput of both endpoints.
bench: setup build
	$(MAKE) --no-print-directory plugins STEWARD=target/release/steward
	$(CARGO) bench -p steward --bench decide
	$(CARGO) bench -p steward --bench plugins
	$(CARGO) bench -p steward --bench isolation
	$(CARGO) bench -p steward-sql --bench tpch
	$(CARGO) bench -p steward --bench query
	$(CARGO) bench -p steward --bench mcp
	$(MAKE) --no-print-directory test-guests STEWARD=target/release/steward
	$(CARGO) build --target $(GUEST_TARGET) --profile plugin --target-dir $(GUEST_DIR) -p query-tool
	$(CARGO) bench -p steward --bench tools
	./scripts/bench-http.sh
	./scripts/bench-query.sh
	./scripts/bench-swap.sh
	$(CARGO) bench -p steward-peers-bench --bench peers

## Fuzz every target for FUZZ_SECONDS seconds each, from seed corpora
## (scripts/fuzz-seeds.sh), with cargo-fuzz on stable (no sanitizer:
## `-s none`). A crash stops the run; its input is in fuzz/artifacts/<target>/.
## See docs/fuzzing.md.
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	./scripts/fuzz-seeds.sh
	$(CARGO) fuzz build -s none
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		dict=; [ -f fuzz/dicts/$$t.dict ] && dict=-dict=fuzz/dicts/$$t.dict; \
		$(CARGO) fuzz run -s none $$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 $$dict || exit 1; \
	done
	@echo "fuzz: $(words $(FUZZ_TARGETS)) passed, 0 failed"

clean:
	$(CARGO) clean
	rm -rf var plugins/*/plugin.wasm plugins/*/plugin.sig

# The front door. `make run` starts a demo server; `make test` runs every test.
CARGO   ?= cargo
DB      ?= sqlite://salus.db
LISTEN  ?= 127.0.0.1:8080
SALUS   := ./target/release/salus

.PHONY: deps build run test bench fmt lint clean

## System packages the build needs: libpq (diesel's PostgreSQL backend) and cargo-nextest.
deps:
	@dpkg -s libpq-dev >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libpq-dev pkg-config; }
	@command -v cargo-nextest >/dev/null 2>&1 || $(CARGO) install cargo-nextest --locked

build: deps
	$(CARGO) build --release -p salus

## Build, migrate, load the demo data set into an empty database, serve on $(LISTEN).
run: build
	$(SALUS) --db $(DB) migrate
	$(SALUS) --db $(DB) ingest --only-if-empty fixtures/demo
	@# A fresh demo token each run; the previous one is revoked. Shown once, as tokens are.
	@$(SALUS) --db $(DB) token revoke make-run >/dev/null 2>&1 || true
	@TOKEN=$$($(SALUS) --db $(DB) token create --role admin --name make-run 2>/dev/null) && \
	echo && \
	echo "Demo token (role admin, revoked by the next make run): $$TOKEN" && \
	echo "Try, in another terminal:" && \
	echo "  curl -s -H 'Authorization: Bearer $$TOKEN' 'http://$(LISTEN)/fhir/Patient?name=testperson'" && \
	echo "  curl -s -H 'Authorization: Bearer $$TOKEN' 'http://$(LISTEN)/fhir/Observation?patient=demo-pat-1&code=http://loinc.org|44261-6'" && \
	echo "  curl -s -H 'Authorization: Bearer $$TOKEN' http://$(LISTEN)/fhir/Patient/demo-pat-1" && \
	echo
	$(SALUS) --db $(DB) serve --listen $(LISTEN)

## Python packages the tests drive Salus with (an MLLP client nobody here wrote), kept in target/.
target/pydeps/.installed: tests/requirements.txt
	python3 -m pip install --quiet --disable-pip-version-check --target target/pydeps -r tests/requirements.txt
	@touch $@

## Every test, on SQLite; on PostgreSQL too when SALUS_TEST_POSTGRES_URL is set (.ci/run sets it).
test: deps target/pydeps/.installed
	$(CARGO) nextest run --workspace --no-fail-fast

## Release build, real data from ../shared/fixtures/external; results in target/bench/.
bench: build
	python3 bench/run.py --salus $(SALUS) --out target/bench

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean

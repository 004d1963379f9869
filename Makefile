# lbkit front door.  `make help` lists the targets.
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: all build deps deps-if-missing test test-unit test-integration bench \
        demo fuzz asan nginx-module nginx-1.30 install uninstall deb rpm test-packages \
        clean help

all: build

help:
	@echo "make              build liblbkit, lbctl, the test backend, tests"
	@echo "make deps         install every build/test dependency (Debian 12, apt-get; Anvil from npm into .deps/npm)"
	@echo "make test         deps if missing, build, nginx module, every test (CTest)"
	@echo "make demo         local JSON-RPC nodes, then lbctl probe / rank / forward"
	@echo "make bench        benchmarks (Google Benchmark, wrk, curl peers)"
	@echo "make fuzz         build and run every libFuzzer target briefly (FUZZ_SECONDS)"
	@echo "make asan         the tests under ASan/UBSan (ASAN_BUILD=build-asan; not the nginx ones)"
	@echo "make nginx-module build ngx_http_upstream_lbkit_module.so against nginx-dev"
	@echo "                  (NGINX_SRC=DIR: against another nginx source tree)"
	@echo "make nginx-1.30   build nginx 1.30.4 from ../shared/vendor and the module for it"
	@echo "make install      install (PREFIX=$(PREFIX), DESTDIR honoured)"
	@echo "make deb | rpm    build packages"

deps:
	packaging/install-deps.sh

deps-if-missing:
	@packaging/install-deps.sh --check || packaging/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# NGINX_SRC: an nginx source tree to build the module against (default:
# Debian's nginx-dev in /usr/share/nginx/src).
NGINX_SRC ?=
nginx-module: build
	NGINX_SRC=$(NGINX_SRC) nginx-module/build.sh $(BUILD)

# nginx 1.30.4 from ../shared/vendor (build/nginx-1.30/sbin/nginx) and the
# module built against it; the module's integration tests run against both.
nginx-1.30: build
	nginx-module/build-nginx.sh $(BUILD)

test: deps-if-missing
	$(MAKE) build nginx-module nginx-1.30
	cd $(BUILD) && ctest --output-on-failure --timeout 900

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

test-integration: build nginx-module nginx-1.30
	cd $(BUILD) && ctest --output-on-failure -L integration

# The library, prober, backend and lbctl under AddressSanitizer + UBSan: every
# test except those that load the module into an (uninstrumented) nginx (the
# nginx tests and the Grafana dashboard's, which scrapes a real nginx) and the
# manual/package checks, which run no instrumented code of ours.
ASAN_BUILD ?= build-asan
asan: deps-if-missing
	$(MAKE) build BUILD=$(ASAN_BUILD) BUILD_TYPE=Debug \
	  CMAKE_FLAGS="-DLBK_SANITIZE=ON -DLBK_BUILD_BENCH=OFF $(CMAKE_FLAGS)"
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure --timeout 900 -E 'nginx|grafana|manpages|packages'

bench: deps-if-missing build nginx-module
	tests/bench/run.sh $(BUILD)

demo: deps-if-missing build
	tests/support/demo.sh $(BUILD)

fuzz: deps-if-missing
	tests/fuzz/run.sh build-fuzz

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

deb: deps-if-missing
	packaging/build-deb.sh

rpm: deps-if-missing
	packaging/build-rpm.sh

test-packages: deps-if-missing
	packaging/test-packages.sh

uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "uninstall: nothing installed from $(BUILD)" >&2; exit 1; }
	xargs -r -d '\n' rm -f -- < $(BUILD)/install_manifest.txt

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

# mosaic-relayer - top-level Makefile.
#
#   make            build build/mosaic-relayer and build/libmosaiceth.a
#   make test       build and run the unit/integration suite
#   make asan       the whole suite under AddressSanitizer (+ LeakSanitizer)
#   make ubsan      the whole suite under UndefinedBehaviorSanitizer
#   make check      test + asan + ubsan: what CI and the README run
#   make valgrind   the suite under valgrind memcheck (VALGRIND=bin: the daemon too)
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench      benchmarks (numbers, not pass/fail)
#   make bench-queue  the job queue next to graphile-worker on one PostgreSQL
#   make bench-watch  the watcher's 10,000-event backfill next to bare eth_getLogs
#   make bench-txm    the transaction manager next to a bare send loop; keep-alive
#   make bench-e2e    the relayer end to end against the protocol's floor (ANVIL.md)
#   make chaos      CHAOS_SECONDS (300) of stakes and redeems under seeded faults
#                   (CHAOS_SEED), then a drain and the invariants; fails on any violation
#   make soak       SOAK_SECONDS (600) of steady traffic without faults: throughput,
#                   latency, RSS/CPU/DB size/queue over time; fails on a stuck
#                   message or RSS growth beyond SOAK_RSS_GROWTH_MIB (16)
#   make contracts  compile contracts/*.sol into build/contracts/<Name>.json
#   make deps       install Debian packages and the pinned npm tools
#   make demo       the relayer at work on a local devnet (deploy/demo.sh)
#   make demo-down  stops and removes everything the demo started
#   make clean
#
# Variables: BUILDDIR (default build), CC, EXTRA_CFLAGS, SAN (sanitizer
# flags for the variant), FUZZ_SECONDS, VECTORS (default ../shared/vectors),
# CHAOS_SECONDS, CHAOS_SEED, SOAK_SECONDS.

CC        ?= cc
BUILDDIR  ?= build
SAN       ?=
SUMMARY   ?=
OPT       ?= -O2
VECTORS   ?= $(abspath ../shared/vectors)
FUZZ_SECONDS ?= 60
FUZZ_CC   ?= clang

WARN   = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
         -Wformat=2 -Wvla -Wpointer-arith -Wcast-qual -Wundef -Werror
CSTD   = -std=c11 -D_DEFAULT_SOURCE
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
CFLAGS_ALL = $(CSTD) $(OPT) -g $(WARN) -I. $(PQ_CFLAGS) $(SAN) $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(SAN) $(EXTRA_LDFLAGS)

# Primitives: pure code, libsecp256k1 and OpenSSL only.
ETH_SRC  = $(sort $(wildcard eth/*.c))
ETH_OBJ  = $(ETH_SRC:%.c=$(BUILDDIR)/obj/%.o)
ETH_LIB  = $(BUILDDIR)/libmosaiceth.a
ETH_LIBS = -lsecp256k1 -lcrypto

# The database layer, the daemon and the operators' CLI.  The SQL
# migrations are embedded into the binary (db/embed-migrations.sh).
MIGRATIONS = $(sort $(wildcard db/migrations/*.sql))
GEN_MIGR = $(BUILDDIR)/gen/migrations.c
APP_SRC  = $(sort $(wildcard chain/*.c db/*.c watchers/*.c relayer/*.c relayer/*/*.c))
APP_OBJ  = $(APP_SRC:%.c=$(BUILDDIR)/obj/%.o) $(BUILDDIR)/obj/gen/migrations.o
APP_MAIN = $(BUILDDIR)/obj/relayer/main.o
WS_LIBS := $(shell pkg-config --libs libwebsockets 2>/dev/null || echo -lwebsockets)
APP_LIBS = -lcurl -ljansson -lyaml -lpq $(WS_LIBS) -lm -lpthread
BIN      = $(BUILDDIR)/mosaic-relayer

# Tests: one cmocka program per tests/unit/test_*.c, sharing tests/lib.
TLIB_SRC = $(sort $(wildcard tests/lib/*.c))
TLIB_OBJ = $(TLIB_SRC:%.c=$(BUILDDIR)/obj/%.o)
TEST_SRC = $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILDDIR)/tests/%)
TEST_LIBS = -lcmocka -ljansson -lpq

# Contracts: solc-js (pinned in deploy/package-lock.json) compiles
# contracts/*.sol into build/contracts/<Name>.json.  Always build/contracts,
# whatever BUILDDIR is: the artifacts do not depend on the C flags, and every
# variant's tests read them there.
CONTRACTS_SRC   = $(sort $(wildcard contracts/*.sol))
CONTRACTS_STAMP = build/contracts/.stamp

# Benchmarks.
BENCH_SRC = $(sort $(wildcard bench/bench_*.c))
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILDDIR)/bench/%)

# Fuzzers (clang + libFuzzer), always in their own tree.
FUZZ_DIR = build/fuzz
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_FLAGS = $(CSTD) -O1 -g -I. $(PQ_CFLAGS) -fsanitize=fuzzer,address,undefined \
             -fno-sanitize-recover=all -Wall -Wextra -Werror

.SECONDARY:

.PHONY: chaos soak demo demo-down bench-queue bench-watch bench-txm bench-e2e all test check asan ubsan valgrind fuzz fuzz-build bench deps clean contracts

all: $(BIN) $(ETH_LIB)

$(BUILDDIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(GEN_MIGR): $(MIGRATIONS) db/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh db/embed-migrations.sh $@ $(MIGRATIONS)

$(BUILDDIR)/obj/gen/migrations.o: $(GEN_MIGR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -c $< -o $@

$(ETH_LIB): $(ETH_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(APP_OBJ) $(ETH_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $(APP_OBJ) $(ETH_LIB) $(APP_LIBS) $(ETH_LIBS)

# Tests may use the CLI's pure helpers (everything in relayer/ but main.o).
$(BUILDDIR)/tests/%: tests/unit/%.c $(TLIB_OBJ) $(ETH_LIB) $(filter-out $(APP_MAIN),$(APP_OBJ))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -o $@ $< $(TLIB_OBJ) $(filter-out $(APP_MAIN),$(APP_OBJ)) \
	    $(ETH_LIB) $(TEST_LIBS) $(APP_LIBS) $(ETH_LIBS) $(LDFLAGS_ALL)

$(BUILDDIR)/bench/%: bench/%.c $(ETH_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -O3 -march=native -o $@ $< $(ETH_LIB) $(ETH_LIBS) $(LDFLAGS_ALL)

$(CONTRACTS_STAMP): $(CONTRACTS_SRC) contracts/build.mjs
	node contracts/build.mjs build/contracts
	@touch $@

contracts: $(CONTRACTS_STAMP)

test: $(BIN) $(TEST_BIN) $(CONTRACTS_STAMP)
	@MR_BIN=$(abspath $(BIN)) MOSAIC_VECTORS=$(VECTORS) SUMMARY=$(SUMMARY) \
	    sh tests/run-tests.sh "$(BUILDDIR)" $(TEST_BIN)

asan:
	$(MAKE) BUILDDIR=build/asan OPT=-O1 \
	    SAN="-fsanitize=address -fno-omit-frame-pointer" test

ubsan:
	$(MAKE) BUILDDIR=build/ubsan OPT=-O1 \
	    SAN="-fsanitize=undefined -fno-sanitize-recover=all" test

# The suite three times (plain, ASan, UBSan), then one closing line with the
# totals of all three.
# The suite under valgrind's memcheck (slow; not part of check); with
# VALGRIND=bin the mosaic-relayer processes the tests start run under it too.
valgrind: $(BIN) $(TEST_BIN) $(CONTRACTS_STAMP)
	@MR_BIN=$(abspath $(BIN)) MOSAIC_VECTORS=$(VECTORS) MR_VALGRIND=$(or $(VALGRIND),1) \
	    sh tests/run-tests.sh "$(BUILDDIR) under valgrind" $(TEST_BIN)

check:
	@mkdir -p build && rm -f build/check-summary.txt
	$(MAKE) test SUMMARY=$(abspath build/check-summary.txt)
	$(MAKE) asan SUMMARY=$(abspath build/check-summary.txt)
	$(MAKE) ubsan SUMMARY=$(abspath build/check-summary.txt)
	@awk '{p+=$$2; f+=$$4; s+=$$6} END {print "(plain, asan, ubsan)"; \
	    printf "tests: %d passed, %d failed, %d skipped\n", p, f, s}' build/check-summary.txt

# Everything but main.c is compiled once with the fuzzing flags into one
# archive; each target links it with its own LLVMFuzzerTestOneInput.
FUZZ_DEPS_SRC = $(ETH_SRC) $(filter-out relayer/main.c,$(APP_SRC))
FUZZ_DEPS_OBJ = $(FUZZ_DEPS_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(FUZZ_DIR)/obj/gen/migrations.o
FUZZ_DEPS_LIB = $(FUZZ_DIR)/libfuzzdeps.a
FUZZ_OBJ_FLAGS = $(filter-out -fsanitize=fuzzer%,$(FUZZ_FLAGS)) -fsanitize=fuzzer-no-link

$(FUZZ_DIR)/gen/migrations.c: $(MIGRATIONS) db/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh db/embed-migrations.sh $@ $(MIGRATIONS)

$(FUZZ_DIR)/obj/gen/migrations.o: $(FUZZ_DIR)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_OBJ_FLAGS) -fsanitize=address,undefined -c $< -o $@

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_OBJ_FLAGS) -fsanitize=address,undefined -MMD -MP -c $< -o $@

$(FUZZ_DEPS_LIB): $(FUZZ_DEPS_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_DEPS_LIB) $(APP_LIBS) $(ETH_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@VECTORS=$(VECTORS) sh tests/fuzz/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do MOSAIC_VECTORS=$(VECTORS) $$b || exit 1; done

# The job queue next to graphile-worker on one throwaway PostgreSQL
# (bench/queue/run.sh installs graphile-worker from bench/queue's lockfile).
$(BUILDDIR)/bench-queue: bench/queue/bench_queue.c $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB) $(APP_LIBS) \
	    $(ETH_LIBS) $(LDFLAGS_ALL)

bench-queue: $(BIN) $(BUILDDIR)/bench-queue
	sh bench/queue/run.sh $(abspath $(BUILDDIR))

# The watcher's backfill of 10,000 events next to the bare eth_getLogs calls
# of the same ranges, on a throwaway PostgreSQL and a local anvil.
$(BUILDDIR)/bench-watch: bench/watch/bench_watch.c $(TLIB_OBJ) $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(TLIB_OBJ) $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB) \
	    $(TEST_LIBS) $(APP_LIBS) $(ETH_LIBS) $(LDFLAGS_ALL)

bench-watch: $(BIN) $(BUILDDIR)/bench-watch
	sh bench/watch/run.sh $(abspath $(BUILDDIR))

# The transaction manager next to a bare send loop, and keep-alive next to a
# fresh connection per request, on a throwaway anvil and PostgreSQL.
$(BUILDDIR)/bench-txm: bench/txm/bench_txm.c $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB) $(APP_LIBS) \
	    $(ETH_LIBS) $(LDFLAGS_ALL)

bench-txm: $(BIN) $(BUILDDIR)/bench-txm
	sh bench/txm/run.sh $(abspath $(BUILDDIR))

# The relayer end to end against the protocol's floor (ANVIL.md): two anvils
# at 1 s blocks, deploy, the daemon; bursts of 50 and BENCH_E2E_BIG (1000).
$(BUILDDIR)/bench-e2e: bench/e2e/bench_e2e.c $(TLIB_OBJ) $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(TLIB_OBJ) $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB) \
	    $(TEST_LIBS) $(APP_LIBS) $(ETH_LIBS) $(LDFLAGS_ALL)

bench-e2e: $(BIN) $(BUILDDIR)/bench-e2e $(CONTRACTS_STAMP)
	sh bench/e2e/run.sh $(abspath $(BUILDDIR))

# Long runs of the relayer end to end (tests/chaos/chaos.c): chaos injects
# seeded faults (kill -9, SIGSTOP, SIGTERM, PostgreSQL crashes and killed
# sessions, RPC faults through a proxy, shallow reorgs), soak runs steadily;
# both drain and check the invariants (RELIABILITY.md §0).
CHAOS_SECONDS ?= 300
SOAK_SECONDS  ?= 600
$(BUILDDIR)/chaos: tests/chaos/chaos.c $(TLIB_OBJ) $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(TLIB_OBJ) $(filter-out $(APP_MAIN),$(APP_OBJ)) $(ETH_LIB) \
	    $(TEST_LIBS) $(APP_LIBS) $(ETH_LIBS) $(LDFLAGS_ALL)

chaos: $(BIN) $(BUILDDIR)/chaos $(CONTRACTS_STAMP)
	CHAOS_SECONDS=$(CHAOS_SECONDS) sh tests/chaos/run.sh $(abspath $(BUILDDIR)) chaos

soak: $(BIN) $(BUILDDIR)/chaos $(CONTRACTS_STAMP)
	SOAK_SECONDS=$(SOAK_SECONDS) sh tests/chaos/run.sh $(abspath $(BUILDDIR)) soak

deps:
	sh deploy/install-deps.sh

# The first command of the README: everything from a fresh machine to
# stakes and a redeem relayed on a local devnet, in a few minutes.
demo:
	@bash deploy/demo.sh up

demo-down:
	@bash deploy/demo.sh down

clean:
	rm -rf build

-include $(wildcard $(FUZZ_DIR)/obj/*/*.d)
-include $(ETH_OBJ:.o=.d) $(filter-out %/gen/migrations.d,$(APP_OBJ:.o=.d)) $(TLIB_OBJ:.o=.d) $(TEST_BIN:=.d)

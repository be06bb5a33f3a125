# allot build. `make` builds the release binaries in build/, `make asan` the
# ASan+UBSan ones in build/asan/, `make test` runs the whole suite under the
# sanitizer build (scripts/test.sh).
CC      ?= cc
PKGS    := libuv libcurl sqlite3 libpq yaml-0.1 libcjson libpcre2-8 libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS)) -lcsv -lpthread -lm
# HTTP/1.1 parsing: llhttp, the parser of Node.js (the successor of the
# retired http_parser). Debian ships it as C sources, not as a library
# (package node-llhttp), so they are compiled here, without our warnings,
# banned-function list or -Werror: they are not ours to change.
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -Wformat=2 -Wundef -fno-common
ifeq ($(CI),true)
WARN    += -Werror
endif
STD     := -std=c17 -D_GNU_SOURCE
OPT     ?= -O2 -g
CFLAGS_ALL = $(STD) $(OPT) $(WARN) -Iinclude -Isrc -I$(LLHTTP_INC) $(PKG_CFLAGS) -include src/util/banned.h $(EXTRA_CFLAGS)

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC  := $(sort $(wildcard src/util/*.c src/config/*.c src/http/*.c src/upstream/*.c \
                               src/route/*.c src/ledger/*.c src/gateway/*.c \
                               src/quality/*.c src/eval/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
FAKE_SRC := $(sort $(wildcard tests/fake_upstream/*.c))

B ?= build

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/obj/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(B)/obj/%.o)
FAKE_OBJ := $(FAKE_SRC:%.c=$(B)/obj/%.o)
LLHTTP_OBJ := $(B)/obj/llhttp/llhttp.o $(B)/obj/llhttp/api.o $(B)/obj/llhttp/http.o

.PHONY: all asan asan-bench-kinds tsan test unit clean fuzz format demo bench bench-kinds bench-quality bench-eval bench-instructions bench-cpu model
all: $(B)/allot $(B)/fake_upstream $(B)/unit_tests

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(B)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@test -f $(LLHTTP_INC)/llhttp.h || { echo "llhttp not found in $(LLHTTP_DIR): apt-get install node-llhttp (scripts/install-deps.sh)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(OPT) -w -I$(LLHTTP_INC) -c $< -o $@

$(B)/liballot.a: $(LIB_OBJ) $(LLHTTP_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The built-in kind-of-work model: trained from data/kinds/ by the bootstrap
# trainer (allot without a model) and linked into every binary that
# classifies. One file for all build flavours: build/kinds.model.
MODEL      := build/kinds.model
KINDS_DATA := $(sort $(wildcard data/kinds/*.jsonl))

$(B)/obj/kinds_blob.o: src/model/kinds_blob.c $(MODEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DALLOT_KINDS_MODEL_FILE='"$(MODEL)"' -c $< -o $@

$(B)/obj/kinds_blob_empty.o: src/model/kinds_blob.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(B)/allot-train: $(CLI_OBJ) $(B)/obj/kinds_blob_empty.o $(B)/liballot.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

ifeq ($(B),build)
$(MODEL): $(KINDS_DATA) build/allot-train
	build/allot-train train kinds --data data/kinds --out $@
else
# another flavour (asan, tsan, fuzz): the release trainer makes the model
$(MODEL): $(KINDS_DATA) $(LIB_SRC) $(CLI_SRC) $(wildcard include/allot/*.h)
	$(MAKE) --no-print-directory B=build OPT="-O2 -g" EXTRA_CFLAGS= $(MODEL)
endif

model: $(MODEL)

$(B)/allot: $(CLI_OBJ) $(B)/obj/kinds_blob.o $(B)/liballot.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(B)/fake_upstream: $(FAKE_OBJ) $(B)/liballot.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(B)/unit_tests: $(UNIT_OBJ) $(B)/obj/kinds_blob.o $(B)/liballot.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# Per-stage cost of the request path (bench/micro.c), no sockets.
$(B)/bench_micro: $(B)/obj/bench/micro.o $(B)/obj/kinds_blob.o $(B)/liballot.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# The ledger's writer measured: rows/s into a SQLite file or PostgreSQL
# (bench/ledger_store.c; docs/ledger.md).
$(B)/bench_ledger_store: $(B)/obj/bench/ledger_store.o $(B)/obj/kinds_blob_empty.o $(B)/liballot.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# The classifier measured: cross-validation and speed (bench/kinds.c).
$(B)/bench_kinds: $(B)/obj/bench/kinds.o $(B)/obj/kinds_blob.o $(B)/liballot.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

bench-kinds: $(B)/bench_kinds
	$(B)/bench_kinds --data data/kinds

# The quality floor measured: check latency (bench/quality_checks.c) and a
# scripted mix of bad labour answers through allot (bench/quality.mjs).
$(B)/bench_quality_checks: $(B)/obj/bench/quality_checks.o $(B)/liballot.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# Routing measured on recorded outcomes (docs/eval.md): RouteLLM's MMLU
# and arena-bench-v1 from ../shared/data (bench/README.md).
SHARED := ../shared/data
MMLU_PAIR := --weak mistralai/Mixtral-8x7B-Instruct-v0.1 --strong gpt-4-1106-preview
bench-eval: all
	time $(B)/allot train outcomes --data $(SHARED)/routellm_mmlu $(MMLU_PAIR) --out $(B)/mmlu.accept
	time $(B)/allot eval --data $(SHARED)/routellm_mmlu $(MMLU_PAIR) --model $(B)/mmlu.accept --quiet | tail -1
	$(B)/allot eval --data $(SHARED)/routellm_mmlu $(MMLU_PAIR) --plot $(B)/mmlu.svg
	$(B)/allot eval --data $(SHARED)/arena_bench_v1/scores_wide.csv $(MMLU_PAIR) \
	    --price mistralai/Mixtral-8x7B-Instruct-v0.1=0.6,0.6 --price gpt-4-1106-preview=10,30
	$(B)/allot eval --data $(SHARED)/arena_bench_v1/scores_wide.csv \
	    --cascade mistralai/Mistral-7B-Instruct-v0.1,mistralai/Mixtral-8x7B-Instruct-v0.1,gpt-3.5-turbo-1106,gpt-4-1106-preview \
	    --price mistralai/Mistral-7B-Instruct-v0.1=0.2,0.2 --price mistralai/Mixtral-8x7B-Instruct-v0.1=0.6,0.6 \
	    --price gpt-3.5-turbo-1106=1,2 --price gpt-4-1106-preview=10,30

# User-space instructions per request of allot serve, by callgrind: steady
# where timings on a shared machine are not (bench/instructions.sh).
bench-instructions: all
	bash bench/instructions.sh

# Where nginx's and allot's CPU goes per request: user and kernel time per
# thread, context switches, system calls (bench/cpu.sh).
bench-cpu: all
	bash bench/cpu.sh

bench-quality: all $(B)/bench_quality_checks
	$(B)/bench_quality_checks
	node bench/quality.mjs

asan:
	$(MAKE) B=build/asan OPT="$(SAN_FLAGS)" all

# The classifier benchmark under ASan+UBSan, for scripts/test.sh's --oof check.
asan-bench-kinds:
	$(MAKE) B=build/asan OPT="$(SAN_FLAGS)" build/asan/bench_kinds

tsan:
	$(MAKE) B=build/tsan OPT="-O1 -g -fsanitize=thread" all

unit: asan
	ASAN_OPTIONS=detect_leaks=1 build/asan/unit_tests

test:
	bash scripts/test.sh

demo: all
	bash scripts/demo.sh

bench: all $(B)/bench_micro
	$(B)/bench_micro
	bash bench/run.sh

fuzz:
	bash tests/fuzz/run.sh

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(UNIT_SRC) $(FAKE_SRC) include/allot/*.h src/*/*.h

clean:
	rm -rf build

-include $(shell find build $(B) -name '*.d' 2>/dev/null | sort -u)

# framebroker — build, test and demo.
#   make            build bin/fb-broker bin/fb-producer bin/fb-encoder bin/fb-render
#                   bin/fb-stat, and the Python scripts bin/fb-stitch bin/fb-farm
#   make check      make deps, then make test: the one command that sets up and runs it all
#   make deps       install what the tests need (Debian packages, the Chrome worker's npm ones)
#   make test       build and run every test, installing nothing (TIER=compiler|independent)
#   make quick      build, unit tests, the core protocol and crash scripts: a few minutes
#   make demo       install ffmpeg if missing, build, render out.mp4 (DEMO_OUT=)
#   make bench      side-by-side benchmarks -> bench/results/ (docs/performance.md)
#   make bench-chrome  fb-html vs hyperframes render -> bench/results/chrome.md
#   make install    PREFIX=/usr/local DESTDIR=: programs, libframebroker (.a, .so),
#                   include/framebroker.h, framebroker.pc; make uninstall removes them
#   make CC=clang   any C11 compiler; SAN=address,undefined adds sanitizers
#   make CFLAGS=-O0 your optimisation/debug flags; the mandatory ones are kept

CC      ?= cc
SAN     ?=
# CFLAGS, LDFLAGS and LDLIBS are the user's (make CFLAGS=-O0): what the build
# cannot do without is appended with `override`, so a value given on the
# command line adds to the mandatory flags instead of replacing them.
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Ilib -Iinclude
override LDLIBS += -pthread -lrt
ifneq ($(SAN),)
override CFLAGS  += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SAN)
endif

BUILD   := build
BIN     := bin
# lib/: the library (libframebroker and the bindings) and nothing else.
# tools/: what only the programs share (options, output checks, sources,
# stats formatting), linked into the programs, never into the library.
LIBC_SRC := lib/fb_util.c lib/fb_pixfmt.c lib/fb_shm.c lib/fb_geom.c lib/fb_segment.c lib/fb_ring.c lib/fb_rewind.c \
           lib/fb_lock.c lib/fb_life.c lib/fb_registry.c lib/fb_proc.c lib/fb_fault.c \
           lib/fb_spin.c lib/fb_guard.c
TOOLS_SRC := tools/fb_args.c tools/fb_attach.c tools/fb_params.c tools/fb_source.c \
           tools/fb_sha256.c tools/fb_plan.c tools/fb_plan_load.c \
           tools/fb_stats.c tools/fb_output.c tools/fb_cli.c
TOOLS_A := $(BUILD)/libfbtools.a

# libframebroker: lib/ plus the public API (include/framebroker.h).
# The programs and tests link LIB_INT, an archive of the objects as they are
# (they use the internals: fb_ring_*, fb_seg_*, ...).  What is installed
# hides those, in both forms: the shared object exports only the public
# symbols (a version script), and the static archive LIB_A holds one object,
# a partial link (ld -r) of the same objects in which every global but the
# public ones (the version script's list, LIB_SYMS) was made local
# (objcopy --keep-global-symbols): a program linked with -lframebroker
# sees the API and nothing else, and cannot clash with our internal names.
VERSION := $(shell awk '/define FB_VERSION_(MAJOR|MINOR|PATCH)/ {v = v s $$3; s = "."} END {print v}' include/framebroker.h)
SONAME  := libframebroker.so.0
LIB_SRC := $(LIBC_SRC) lib/fb_view.c lib/framebroker.c
LIB_INT := $(BUILD)/libframebroker-internal.a
LIB_A   := $(BUILD)/libframebroker.a
LIB_SO  := $(BUILD)/lib/libframebroker.so.$(VERSION)
LIB_SYMS := $(BUILD)/framebroker.syms
LD      ?= ld
OBJCOPY ?= objcopy

SCRIPTS := $(BIN)/fb-stitch $(BIN)/fb-farm
HTMLPROG := $(BIN)/fb-html
# fb-farm's modules, one concept each (each says at its top what for);
# fbfarm_common.py is fb-stitch's too.
PYMODS  := $(addprefix $(BIN)/,fbfarm_common.py fbfarm_plan.py fbfarm_workdir.py \
		fbfarm_runs.py fbfarm_status.py fbfarm_chunk.py)
CPROGS  := $(BIN)/fb-broker $(BIN)/fb-producer $(BIN)/fb-encoder $(BIN)/fb-render $(BIN)/fb-stat
PROGS   := $(CPROGS) $(SCRIPTS) $(HTMLPROG)

all: $(PROGS) $(PYMODS) lib

# Rebuild everything when the compiler or flags change (e.g. SAN= on/off).
# The flags as set here (:=), not as a target sees them: the tests' own
# -I must not make `make bin/test_unit` look like a change of flags.
STAMP := $(BUILD)/flags.stamp
FLAGS_SIG := $(CC) $(CFLAGS) $(LDFLAGS)
$(STAMP): FORCE
	@mkdir -p $(BUILD)
	@echo '$(FLAGS_SIG)' | cmp -s - $@ || echo '$(FLAGS_SIG)' > $@

# The scale-out scripts (docs/scale-out.md): Python 3, standard library
# only, with the version and the interpreter filled in.  PYTHON is an
# absolute path (the system's, not whichever python3 PATH finds first: the
# scripts run as root on cluster nodes), started -IB: isolated from
# PYTHON* variables, the user's site-packages and the current directory,
# and writing no bytecode next to the installed modules.  Their modules
# (PYMODS: fbfarm_common.py, which both share, and fb-farm's fbfarm_*.py)
# sit beside them in bin/ and are installed into PREFIX/lib/framebroker,
# where they look for them next.
PYTHON  ?= /usr/bin/python3
$(SCRIPTS): $(BIN)/%: scripts/%.in include/framebroker.h
	@mkdir -p $(BIN)
	sed -e 's|@VERSION@|$(VERSION)|' -e '1s|@PYTHON@|$(PYTHON)|' $< > $@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

# fb-html (docs/html.md): the same, from html/, where its Chrome worker is.
$(HTMLPROG): $(BIN)/%: html/%.in include/framebroker.h
	@mkdir -p $(BIN)
	sed -e 's|@VERSION@|$(VERSION)|' -e '1s|@PYTHON@|$(PYTHON)|' $< > $@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

$(PYMODS): $(BIN)/%: scripts/%
	@mkdir -p $(BIN)
	cp $< $@.tmp && chmod 644 $@.tmp && mv $@.tmp $@

$(BUILD)/%.o: %.c $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/pic/%.o: %.c $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c -o $@ $<

$(LIB_INT): $(LIB_SRC:%.c=$(BUILD)/%.o)
	rm -f $@
	$(AR) rcs $@ $^

$(TOOLS_A): $(TOOLS_SRC:%.c=$(BUILD)/%.o)
	rm -f $@
	$(AR) rcs $@ $^

# The programs (and their tests) see tools/ as well as lib/; lib/ never does.
PROG_DIRS := tools broker producer encoder launcher stat tests
$(foreach d,$(PROG_DIRS),$(eval $(BUILD)/$(d)/%.o: override CFLAGS += -Itools))

# The public names, one a line: the global: entries of the version script.
$(LIB_SYMS): lib/framebroker.map
	@mkdir -p $(dir $@)
	awk '/global:/ {g = 1; next} /local:|}/ {g = 0} g && /^[ \t]*fb_[a-z_0-9]+;/ \
		{gsub(/[ \t;]/, ""); print}' $< > $@.tmp && mv $@.tmp $@

$(LIB_A): $(LIB_SRC:%.c=$(BUILD)/%.o) $(LIB_SYMS)
	$(LD) -r -o $(BUILD)/framebroker-all.o $(filter %.o,$^)
	$(OBJCOPY) --keep-global-symbols=$(LIB_SYMS) $(BUILD)/framebroker-all.o \
		$(BUILD)/framebroker-public.o
	rm -f $@
	$(AR) rcs $@ $(BUILD)/framebroker-public.o

$(LIB_SO): $(LIB_SRC:%.c=$(BUILD)/pic/%.o) lib/framebroker.map
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/framebroker.map \
		-o $@ $(filter %.o,$^) -pthread -lrt
	ln -sf libframebroker.so.$(VERSION) $(BUILD)/lib/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/lib/libframebroker.so

lib: $(LIB_A) $(LIB_SO)

$(BIN)/fb-broker: $(BUILD)/broker/fb-broker.o $(BUILD)/broker/create.o $(BUILD)/broker/supervise.o \
		$(BUILD)/broker/watch.o $(TOOLS_A) $(LIB_INT)
$(BIN)/fb-producer: $(BUILD)/producer/fb-producer.o $(BUILD)/producer/pattern.o \
		$(BUILD)/producer/renderer.o $(TOOLS_A) $(LIB_INT)
$(BIN)/fb-encoder: $(BUILD)/encoder/fb-encoder.o $(BUILD)/encoder/output.o $(BUILD)/encoder/segments.o \
		$(BUILD)/encoder/ffmpeg_sink.o $(BUILD)/encoder/ffmpeg_argv.o \
		$(BUILD)/encoder/sink.o $(TOOLS_A) $(LIB_INT)
$(BIN)/fb-render: $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard launcher/*.c))) $(TOOLS_A) $(LIB_INT)
$(BIN)/fb-stat: $(BUILD)/stat/fb-stat.o $(TOOLS_A) $(LIB_INT)

$(CPROGS):
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests ---------------------------------------------------------------
# bin/test_unit: every tests/unit/*.c, one cmocka group per module
# (tests/unit/README.md); a new module's file is picked up as it is.
UNIT_TESTS := $(BIN)/test_unit
UNIT_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/unit/*.c))

$(BIN)/test_unit: $(UNIT_OBJ) $(BUILD)/producer/pattern.o \
		$(BUILD)/encoder/sink.o $(TOOLS_A) $(LIB_INT)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/%.o: override CFLAGS += -Iproducer -Iencoder -Itests

$(BIN)/fb-stress: $(BUILD)/tests/protocol/stress.o
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^

STRESS_SECONDS ?= 60
stress: all $(BIN)/fb-stress
	STRESS_SECONDS=$(STRESS_SECONDS) $(BIN)/fb-stress

model:
	model/run.sh

# libFuzzer target (clang): the segment's header and words as hostile input.
FUZZ_SECONDS ?= 300
FUZZ_BIN := $(BUILD)/fuzz/fuzz_ring
$(FUZZ_BIN): tests/fuzz/fuzz_ring.c $(LIBC_SRC) $(wildcard lib/*.h) include/framebroker.h
	@mkdir -p $(dir $@)
	clang -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib -Iinclude \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_ring.c $(LIBC_SRC) -pthread -lrt

fuzz: $(FUZZ_BIN)
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/fuzz.sh $(FUZZ_BIN)

# ---- running the tests (tests/README.md) ----------------------------------
# make deps installs, and nothing else does: make test runs the suite on
# what is there (a script whose tools are missing says SKIP and why).
# TIER=compiler runs only what a compiler or sanitizer can change (the unit
# tests, stress, the C programs' scripts), TIER=independent the rest (model,
# fuzzer, farm, Chrome, docs, build): CI runs the second once, the first
# under each compiler.  make quick is the loop to run while working.  The
# builds use every core unless make was given -j already.
TIER ?= all
NPROC := $(shell nproc 2> /dev/null || echo 2)
JOBS   = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))
TEST_BUILD := all $(UNIT_TESTS) $(if $(filter independent,$(TIER)),,$(BIN)/fb-stress) \
	$(if $(filter compiler,$(TIER)),,$(FUZZ_BIN))

deps:
	@scripts/install-deps.sh

test:
	$(MAKE) $(JOBS) $(TEST_BUILD)
	FB_SAN=$(SAN) FB_CC=$(CC) FB_TIER=$(TIER) tests/run.sh

check: deps
	$(MAKE) test

quick:
	$(MAKE) $(JOBS) all $(UNIT_TESTS) $(BIN)/fb-stress
	FB_SAN=$(SAN) FB_CC=$(CC) FB_TIER=quick tests/run.sh

# Ends with fb-render's own line naming what it wrote (--log-level info:
# even with FB_LOG_LEVEL=warning in the environment); DEMO_OUT=PATH elsewhere.
DEMO_OUT ?= out.mp4
demo:
	@scripts/install-deps.sh ffmpeg
	@$(MAKE) --no-print-directory all
	@$(BIN)/fb-render --log-level info -o $(DEMO_OUT)

# Benchmarks report ratios; a full run fails (exit 1) when one moved more
# than 1.5x from docs/performance.md's table: BENCH_ACCEPT=1 writes the new
# figures in instead (bench/README.md).  BENCH_RUNS=N.
bench:
	@scripts/install-deps.sh ffmpeg nodejs gnuplot-nox python3
	$(MAKE) all
	bench/bench.py

# ---- node binding (bindings/node, issue 15) ------------------------------
# make node: bindings/node/framebroker.node, an N-API addon built with $(CC)
# against the N-API headers of the installed nodejs (no node-gyp, no
# download).  The library is linked in statically, from the same PIC objects
# as libframebroker.so: the addon is one self-contained file that works
# wherever npm puts the package (npm install ./bindings/node links it, npm
# pack copies it) without an rpath into this build tree, and cannot load a
# libframebroker.so of another version than the fb-render it talks to.  Its
# version script exports only the N-API entry points (the library's
# internal names stay local).  Under SAN= the addon is instrumented too, and
# node needs the sanitizer runtime preloaded (tests/bindings/t_node.sh does it).
NODE_INC   ?= /usr/include/node
NODE_ADDON := bindings/node/framebroker.node
NODE_SRC   := $(wildcard bindings/node/src/*.c)

node: $(NODE_ADDON)

$(NODE_ADDON): $(NODE_SRC) $(wildcard bindings/node/src/*.h) bindings/node/src/fb_node.map $(LIB_SRC:%.c=$(BUILD)/pic/%.o) \
		include/framebroker.h $(STAMP)
	$(CC) $(CFLAGS) -fPIC -isystem $(NODE_INC) $(LDFLAGS) -shared \
		-Wl,--version-script=bindings/node/src/fb_node.map -o $@.$$$$.tmp $(NODE_SRC) \
		$(filter %.o,$^) -pthread -lrt && mv $@.$$$$.tmp $@

# (a temporary of the shell's own, moved in whole: two builds at once, two
# make checks say, never load a half-written addon)
clean: clean-node
clean-node:
	rm -f $(NODE_ADDON)

.PHONY: node clean-node
# ---- end of the node binding ---------------------------------------------

# ---- bench-chrome (issues 15, 22): fb-html vs hyperframes ---------------
# make bench-chrome: fb-html (K Chrome workers under fb-render) vs the
# hyperframes CLI (0.9.84, also with HF_STATIC_DEDUP=0) on two of
# hyperframes' registry examples (../shared/compositions, copied untouched),
# interleaved, K = 1 2 4, median of BENCH_RUNS (not part of make check; the
# full matrix takes hours on 2 cores).  Installs what it needs: Debian
# packages here, hyperframes + a Node 22 binary + gsap into build/bench-chrome
# (bench/chrome/setup.sh, npm ci from bench/chrome/package-lock.json), and
# html's packages when npm ls finds one missing (npm ci in html).  Prints
# the tables and writes bench/results/chrome.{md,json}.
# BENCH_CHROME_ARGS=--quick: one project's first second, K=1,2, one run:
# the harness works (figures mean nothing); see bench/chrome/README.md for
# BENCH_PROJECTS, BENCH_RUNS and the rest.
BENCH_CHROME_ARGS ?=
bench-chrome:
	@scripts/install-deps.sh ffmpeg nodejs chromium python3
	$(MAKE) all node
	@(cd html && npm ls --depth=0 > /dev/null 2>&1) || \
		(cd html && npm ci --no-audit --no-fund --loglevel=error)
	/usr/bin/python3 bench/chrome/bench_chrome.py $(BENCH_CHROME_ARGS)

.PHONY: bench-chrome
# ---- end of bench-chrome -------------------------------------------------

# ---- install -------------------------------------------------------------
PREFIX  ?= /usr/local
DESTDIR ?=
D       := $(DESTDIR)$(PREFIX)
MAN1    := $(wildcard man/*.1)
MAN3    := $(wildcard man/*.3)
# A program linked with -lframebroker must start without LD_LIBRARY_PATH.
# In a directory the dynamic linker searches (SYSTEM_LIBDIRS: its defaults
# and Debian's /etc/ld.so.conf.d/libc.conf) `ldconfig` makes it known; a
# staged DESTDIR install leaves that to the package's own scripts.  Anywhere
# else framebroker.pc's --libs carries an rpath to the installed library.
SYSTEM_LIBDIRS := /lib /usr/lib /usr/local/lib
LIBDIR  := $(patsubst %/,%,$(PREFIX))/lib
LDCONFIG ?= ldconfig
ifneq ($(filter $(LIBDIR),$(SYSTEM_LIBDIRS)),)
PC_RPATH :=
RUN_LDCONFIG := $(if $(DESTDIR),,$(LDCONFIG))
else
PC_RPATH := -Wl,-rpath,$${libdir}
RUN_LDCONFIG :=
endif

install: all
	install -d $(D)/bin $(D)/lib/pkgconfig $(D)/include
	install -m 755 $(PROGS) $(D)/bin/
	install -d $(D)/lib/framebroker
	install -m 644 $(PYMODS) $(D)/lib/framebroker/
	install -m 644 $(LIB_A) $(D)/lib/
	install -m 755 $(LIB_SO) $(D)/lib/
	ln -sf libframebroker.so.$(VERSION) $(D)/lib/$(SONAME)
	ln -sf $(SONAME) $(D)/lib/libframebroker.so
	install -m 644 include/framebroker.h $(D)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@RPATH@|$(PC_RPATH)|' \
		framebroker.pc.in > $(D)/lib/pkgconfig/framebroker.pc
	install -d $(D)/share/man/man1 $(D)/share/man/man3
	install -m 644 $(MAN1) $(D)/share/man/man1/
	install -m 644 $(MAN3) $(D)/share/man/man3/
	$(if $(RUN_LDCONFIG),$(RUN_LDCONFIG) || echo "make install: $(RUN_LDCONFIG) failed: run it (as root) \
		before starting a program linked with -lframebroker" >&2)
	$(MAKE) --no-print-directory install-html

# fb-html's Chrome worker and the Node binding it attaches with, as in the
# source tree (html/ beside bindings/node/: the worker finds the binding
# there), under PREFIX/lib/framebroker, with the worker's npm packages
# (html/node_modules, from `cd html && npm ci`) copied if present.  Without
# the binding (make node: needs nodejs's headers) fb-html is installed but
# says, when run, what is missing.
HTML_FILES := $(wildcard html/*.mjs html/*.js) html/package.json html/package-lock.json
install-html:
	install -d $(D)/lib/framebroker/html $(D)/lib/framebroker/bindings/node
	install -m 644 $(HTML_FILES) $(D)/lib/framebroker/html/
	install -m 644 bindings/node/index.mjs bindings/node/index.cjs bindings/node/index.d.ts bindings/node/package.json $(D)/lib/framebroker/bindings/node/
	@if [ -f $(NODE_ADDON) ]; then install -m 755 $(NODE_ADDON) $(D)/lib/framebroker/bindings/node/; \
	else echo "make install: no $(NODE_ADDON) (make node): fb-html will not run until it is installed" >&2; fi
	@if [ -d html/node_modules ]; then rm -rf $(D)/lib/framebroker/html/node_modules && \
		cp -a html/node_modules $(D)/lib/framebroker/html/; \
	else echo "make install: no html/node_modules (cd html && npm ci): fb-html needs puppeteer-core there" >&2; fi

uninstall:
	rm -f $(PROGS:$(BIN)/%=$(D)/bin/%) $(D)/lib/libframebroker.a \
		$(D)/lib/libframebroker.so.$(VERSION) $(D)/lib/$(SONAME) $(D)/lib/libframebroker.so \
		$(D)/include/framebroker.h $(D)/lib/pkgconfig/framebroker.pc \
		$(MAN1:man/%=$(D)/share/man/man1/%) $(MAN3:man/%=$(D)/share/man/man3/%) \
		$(PYMODS:$(BIN)/%=$(D)/lib/framebroker/%)
	rm -rf $(D)/lib/framebroker/html $(D)/lib/framebroker/bindings
	-rmdir $(D)/lib/framebroker 2> /dev/null
	$(if $(RUN_LDCONFIG),-$(RUN_LDCONFIG))

clean:
	rm -rf $(BUILD) $(BIN)

FORCE:
.PHONY: all lib check deps test quick demo bench install install-html uninstall clean stress model fuzz FORCE
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# SPDX-License-Identifier: MIT
#
# quarantined: plain GNU make.  Dependencies come from pkg-config; when one
# is missing, `make check`, `make demo` and `make bench` run
# scripts/install-deps first, so each is one command on a fresh Debian.
#
#   make [all]        build build/quarantined and build/quarantinectl
#   make check        format check, Python lint (pyflakes), citation and
#                     ARCHITECTURE.md checks, unit suites (plain and
#                     ASan+UBSan), valgrind, config golden tests,
#                     simulator and end-to-end tests
#   make demo         run the daemon against the bundled simulated tenant
#   make bench        benchmarks, the daemon against an official-SDK peer
#                     among them (check runs only their smoke form)
#   make kill-loop    200 SIGKILLs of the apply engine (check runs 30)
#   make soak         10,000 accelerated polling cycles, no growth of memory
#                     or descriptors (check runs 300)
#   make fuzz         every libFuzzer target for FUZZ_TIME seconds
#   make install      PREFIX=/usr/local DESTDIR=
#   make format       rewrite sources with clang-format
#   make clean

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= /lib/systemd/system
CATALOGDIR ?= /usr/lib/systemd/catalog
BASHCOMPDIR ?= /usr/share/bash-completion/completions
DOCDIR     ?= $(PREFIX)/share/doc/quarantined
DESTDIR    ?=

CC         ?= cc
PKG_CONFIG ?= pkg-config
USE_SYSTEMD ?= auto

# V=1 shows the full compiler command lines.
ifeq ($(V),1)
  Q :=
  QCC :=
else
  Q := @
  QCC = @echo "  CC      $@";
endif

# B is the build directory; SAN=1 builds with ASan+UBSan.
B   ?= build
SAN ?= 0

PKGS      := libuv libcurl libcjson inih openssl libxml-2.0 libmicrohttpd
TEST_PKGS := check
ifeq ($(USE_SYSTEMD),auto)
  USE_SYSTEMD := $(shell $(PKG_CONFIG) --exists libsystemd && echo yes || echo no)
endif
ifeq ($(USE_SYSTEMD),yes)
  PKGS += libsystemd
  SYSTEMD_CFLAGS := -DHAVE_LIBSYSTEMD
endif
ALL_PKGS := $(PKGS) $(TEST_PKGS) libsystemd

# OpenBSD's warning set (usr.sbin/ntpd/Makefile) on top of -Wall -Wextra.
WARNINGS := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
            -Wmissing-declarations -Wshadow -Wpointer-arith -Wcast-qual \
            -Wsign-compare -Wformat=2 -Wno-format-nonliteral

CFLAGS ?= -O2 -g
# GCC leaves float-cast-overflow out of -fsanitize=undefined; it is the
# check that catches a JSON number converted before its range is known.
ifeq ($(SAN),1)
  CFLAGS := -O1 -g -fno-omit-frame-pointer \
            -fsanitize=address,undefined,float-cast-overflow \
            -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined,float-cast-overflow
endif
# SAN=fuzz: clang's libFuzzer instrumentation on top of ASan+UBSan, for
# the targets in tests/fuzz (see the fuzz targets below).
ifeq ($(SAN),fuzz)
  CC     := clang
  CFLAGS := -O1 -g -fno-omit-frame-pointer \
            -fsanitize=fuzzer-no-link,address,undefined,float-cast-overflow \
            -fno-sanitize-recover=all
endif
QD_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARNINGS) -MMD -MP \
             -DQD_VERSION=\"$(VERSION)\" \
             -DQD_CONFFILE=\"$(SYSCONFDIR)/quarantined/quarantined.conf\" \
             -DQD_CREDDIR=\"$(SYSCONFDIR)/quarantined/credentials\" \
             $(SYSTEMD_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
QD_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm
TEST_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

# Every daemon/*.c but the entry points is shared by the daemon and tests.
# daemon/ctl_*.c belong to quarantinectl only (and its unit tests).
MAINS     := daemon/main.c daemon/quarantinectl.c
CTL_SRCS  := $(sort $(wildcard daemon/ctl_*.c))
# daemon/*_win32.c are the Windows sides of the platform layer and of -n
# (make windows); every other build links daemon/*_posix.c.
SRCS      := $(filter-out $(MAINS) $(CTL_SRCS) daemon/%_win32.c,\
               $(sort $(wildcard daemon/*.c)))
OBJS      := $(SRCS:daemon/%.c=$(B)/%.o)
CTL_OBJS  := $(CTL_SRCS:daemon/%.c=$(B)/%.o)
TEST_SRCS := $(sort $(wildcard tests/*.c))
TEST_OBJS := $(TEST_SRCS:tests/%.c=$(B)/tests/%.o)
FUZZ_TARGETS := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
SUITE_SRCS := $(filter-out tests/check_main.c,$(wildcard tests/check_*.c))
SUITES    := $(sort $(SUITE_SRCS:tests/check_%.c=%))
FORMAT_FILES := $(wildcard daemon/*.[ch] daemon/win32/*.[ch] tests/*.[ch] tests/fuzz/*.[ch] \
                  tests/win32/*.[ch])
# Python: every *.py below scripts/ and tests/, and the scripts that are Python
# without the extension (scripts/graphsim, scripts/bench).
PY_FILES := $(sort $(shell find scripts tests -name '*.py' \
                -not -path '*/__pycache__/*') \
              $(shell for f in scripts/*; do [ -f "$$f" ] && \
                head -n 1 "$$f" | grep -q '^\#!.*python' && echo "$$f"; done))

# The benchmark peer's SDK, installed by npm (see the bench targets).
PEER_SDK := tests/bench/peer/node_modules/@microsoft/microsoft-graph-client/package.json

VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect \
            --show-leak-kinds=definite,indirect --track-fds=no

DEPS_OK = $(PKG_CONFIG) --exists $(ALL_PKGS) && command -v python3 >/dev/null \
          && command -v valgrind >/dev/null && command -v clang-format >/dev/null \
          && command -v openssl >/dev/null && command -v rsyslogd >/dev/null \
          && ls /usr/lib/*/rsyslog/lmnsd_ossl.so >/dev/null 2>&1 \
          && command -v journalctl >/dev/null && command -v dpkg-buildpackage >/dev/null \
          && command -v lintian >/dev/null && command -v mmdebstrap >/dev/null \
          && command -v systemd-nspawn >/dev/null && command -v dh >/dev/null \
          && command -v pyflakes3 >/dev/null && command -v promtool >/dev/null \
          && command -v groff >/dev/null && command -v clang >/dev/null \
          && command -v node >/dev/null && command -v npm >/dev/null \
          && command -v x86_64-w64-mingw32-gcc >/dev/null && command -v wine >/dev/null \
          && test -e $(FUZZ_LIB)

# libFuzzer's runtime (Debian: libclang-rt-14-dev, pulled in by clang-14).
FUZZ_LIB = $(shell clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null)

.PHONY: all check demo bench install clean format format-check deps \
        check-run unit unit-asan unit-valgrind conf-check graphsim-check \
        e2e-check bench-run bench-smoke ctl-check ctl-check-asan deb system-check \
        repo-check lint-py docs-check fuzz fuzz-bins fuzz-replay kill-loop \
        e2e-asan e2e-valgrind e2e-both soak soak-short windows-check windows

all: $(B)/quarantined $(B)/quarantinectl

deps:
	@$(DEPS_OK) || scripts/install-deps

$(B)/quarantined: $(B)/main.o $(OBJS)
	$(QCC)$(CC) $(LDFLAGS) -o $@ $^ $(QD_LIBS)

$(B)/quarantinectl: $(B)/quarantinectl.o $(CTL_OBJS) $(OBJS)
	$(QCC)$(CC) $(LDFLAGS) -o $@ $^ $(QD_LIBS)

$(B)/%.o: daemon/%.c | $(B)
	$(QCC)$(CC) $(QD_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/%.o: tests/%.c $(B)/tests/suites.h | $(B)/tests
	$(QCC)$(CC) $(QD_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -Idaemon -I$(B)/tests \
	    -c -o $@ $<

# tests/check_<mod>.c defines <mod>_suite(); the list is made from the
# file names, so a new suite needs no registration by hand.
$(B)/tests/suites.h: $(TEST_SRCS) | $(B)/tests
	@{ for s in $(SUITES); do echo "SUITE($$s)"; done; } > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

$(B)/check_quarantined: $(TEST_OBJS) $(CTL_OBJS) $(OBJS)
	$(QCC)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(QD_LIBS)

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.c tests/fuzz/fuzz.h \
                  $(OBJS) | $(B)/fuzz
	$(QCC)$(CC) $(QD_CFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ \
	    $< tests/fuzz/fuzz.c $(OBJS) $(QD_LIBS)

$(B) $(B)/tests $(B)/fuzz:
	$(Q)mkdir -p $@

check: deps
	@$(MAKE) --no-print-directory check-run

check-run: format-check lint-py repo-check docs-check conf-check unit \
           unit-asan unit-valgrind ctl-check ctl-check-asan fuzz-replay \
           graphsim-check bench-smoke e2e-both e2e-valgrind soak-short \
           system-check windows-check
	@echo "make check: all checks passed"

# The end-to-end suite twice, plain and under ASan+UBSan, side by side:
# its tests mostly wait on the daemon and the simulator, so two runs share
# two cores well, and each test waits on conditions, not on time, so the
# load does not make them flaky.  Each run's output is printed whole when
# it ends.  Both binaries are built first, one at a time.
e2e-both: $(B)/quarantined $(B)/quarantinectl
	@$(MAKE) --no-print-directory B=build-asan SAN=1 \
	    build-asan/quarantined build-asan/quarantinectl
	@$(MAKE) --no-print-directory -j2 --output-sync=recurse \
	    e2e-check e2e-asan

# Unit suites, each test in its own process (CK_FORK=yes).  The lifecycle
# tests start $(B)/quarantined, so the binary is built first.
unit: $(B)/check_quarantined $(B)/quarantined
	CK_FORK=yes QD_BIN=$(B)/quarantined QD_SRCDIR=$(CURDIR) \
	    ./$(B)/check_quarantined

unit-asan:
	@$(MAKE) --no-print-directory B=build-asan SAN=1 unit

# valgrind over the daemon itself: the lifecycle suite runs the daemon
# binary under valgrind and fails on any error or leak it reports.
unit-valgrind: $(B)/check_quarantined $(B)/quarantined
	CK_FORK=yes CK_RUN_SUITE=lifecycle QD_BIN=$(B)/quarantined \
	    QD_WRAPPER="$(VALGRIND)" QD_SRCDIR=$(CURDIR) \
	    ./$(B)/check_quarantined

# quarantinectl run as a user would, for every subcommand and its errors;
# again built with ASan+UBSan.
ctl-check: $(B)/quarantinectl
	QD_CTL=$(B)/quarantinectl QD_SRCDIR=$(CURDIR) \
	    python3 -m unittest tests.ctl.test_quarantinectl

ctl-check-asan:
	@$(MAKE) --no-print-directory B=build-asan SAN=1 ctl-check

# The SIGKILL loop of the apply engine (tests/e2e/test_kill_loop.py) at full
# length; make check runs it with 30 kills.  KILL_STALE_READS=N makes the
# simulator serve N stale reads after each write.
KILLS ?= 200
KILL_STALE_READS ?= 0
kill-loop: $(B)/quarantined
	QD_KILLS=$(KILLS) QD_KILL_STALE_READS=$(KILL_STALE_READS) \
	    QD_BIN=$(B)/quarantined python3 -m unittest -v tests.e2e.test_kill_loop

# libFuzzer targets (tests/fuzz/fuzz_NAME.c; clang from Debian).  Every
# seed (tests/fuzz/corpus/NAME) and every finding kept as a regression
# (tests/fuzz/findings/NAME) is run once under ASan+UBSan in make check;
# `make fuzz` fuzzes each target for FUZZ_TIME seconds, new inputs going
# to build-fuzz/corpus/NAME, crashes to tests/fuzz/findings/NAME, and
# prints executions and findings per target.
FUZZ_TIME ?= 300
fuzz-bins: $(FUZZ_BINS)

fuzz-replay:
	@$(MAKE) --no-print-directory B=build-fuzz SAN=fuzz fuzz-bins
	@for t in $(FUZZ_TARGETS); do \
	  dirs=tests/fuzz/corpus/$$t; \
	  [ -d tests/fuzz/findings/$$t ] && dirs="$$dirs tests/fuzz/findings/$$t"; \
	  n=$$(find $$dirs -type f | wc -l); \
	  ./build-fuzz/fuzz/fuzz_$$t -runs=0 $$dirs \
	      > build-fuzz/replay-$$t.log 2>&1 || \
	    { cat build-fuzz/replay-$$t.log; echo "fuzz-replay: FAIL $$t"; exit 1; }; \
	  echo "fuzz-replay: $$t: $$n inputs OK"; \
	done

fuzz:
	@$(MAKE) --no-print-directory B=build-fuzz SAN=fuzz fuzz-bins
	@for t in $(FUZZ_TARGETS); do \
	  $(MAKE) --no-print-directory fuzz-$$t || exit 1; done

# fuzz-NAME: one target; FUZZ_TIME_NAME overrides FUZZ_TIME for it.
fuzz-%:
	@$(MAKE) --no-print-directory B=build-fuzz SAN=fuzz build-fuzz/fuzz/fuzz_$*
	@mkdir -p build-fuzz/corpus/$* tests/fuzz/findings/$*
	@t=$(or $(FUZZ_TIME_$*),$(FUZZ_TIME)); \
	./build-fuzz/fuzz/fuzz_$* -max_total_time=$$t -print_final_stats=1 \
	    -artifact_prefix=tests/fuzz/findings/$*/ \
	    build-fuzz/corpus/$* tests/fuzz/corpus/$* \
	    > build-fuzz/fuzz-$*.log 2>&1; \
	rc=$$?; \
	execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    build-fuzz/fuzz-$*.log); \
	found=$$(find tests/fuzz/findings/$* -type f | wc -l); \
	echo "fuzz: $*: $$execs executions in $$t s, exit $$rc, $$found findings kept"

# The time-accelerated soak (tests/e2e/soak.py, outside e2e-check's
# discovery): SOAK_CYCLES polling cycles against a changing tenant with
# the daemon's RSS and descriptors sampled; figures in $(B)/soak.txt.
SOAK_CYCLES ?= 10000
soak: $(B)/quarantined
	QD_SOAK_CYCLES=$(SOAK_CYCLES) QD_SOAK_REPORT=$(B)/soak.txt \
	    QD_BIN=$(B)/quarantined python3 -m unittest -v tests.e2e.soak

soak-short:
	@$(MAKE) --no-print-directory soak SOAK_CYCLES=300

# Golden tests for -n: tests/conf/NAME.in must print exactly NAME.ok.
# They run on a copy in $(B), where the secrets and keys get the modes git
# cannot keep, and check the files as the user running them.
conf-check: $(B)/quarantined
	@rm -rf $(B)/tests/conf && mkdir -p $(B)/tests && cp -R tests/conf $(B)/tests/
	@chmod 600 $(B)/tests/conf/*.secret $(B)/tests/conf/*.key \
	    $(B)/tests/conf/credentials/*
	@chmod 644 $(B)/tests/conf/open.secret
	@fail=0; bin=$(CURDIR)/$(B)/quarantined; user=$$(id -un); \
	for f in tests/conf/*.in; do \
	  (cd $(B) && CREDENTIALS_DIRECTORY=tests/conf/credentials \
	    $$bin -n -u $$user -f $$f) > $(B)/conf.out 2>&1; \
	  echo "exit $$?" >> $(B)/conf.out; \
	  if ! diff -u $${f%.in}.ok $(B)/conf.out; then \
	    echo "conf-check: FAIL $$f"; fail=1; fi; \
	done; \
	mkdir -p $(B)/tests/conf/example && \
	  printf 'not-a-real-secret\n' > $(B)/tests/conf/example/credentials_contoso.secret && \
	  chmod 600 $(B)/tests/conf/example/credentials_contoso.secret && \
	  CREDENTIALS_DIRECTORY=$(B)/tests/conf/example \
	    ./$(B)/quarantined -n -u $$user -f conf/quarantined.conf || fail=1; \
	test $$fail = 0 && echo "conf-check: $$(ls tests/conf/*.in | wc -l) golden files OK"

# The tree itself: every citation resolves inside the repository (no notes
# outside it, every docs/*.md#section exists), and ARCHITECTURE.md's module
# table and data flow match daemon/.
repo-check:
	python3 -m unittest discover -s tests/repo -t .

graphsim-check:
	@if [ -d tests/graphsim ]; then \
	  python3 -m unittest discover -s tests/graphsim -t . ; \
	else echo "graphsim-check: no simulator tests"; fi

# The whole e2e suite again with the daemon built with ASan+UBSan (a leak or
# an error makes the clean stop fail), and the apply story under valgrind.
e2e-asan:
	@$(MAKE) --no-print-directory B=build-asan SAN=1 e2e-check

E2E_VALGRIND_TEST := tests.e2e.test_apply.ApplyE2E.test_existing_cloud_account_refused_then_applied_then_hard_matched
e2e-valgrind: $(B)/quarantined
	QD_BIN=$(B)/quarantined QD_WRAPPER="$(VALGRIND)" \
	    python3 -m unittest $(E2E_VALGRIND_TEST)

e2e-check: $(B)/quarantined $(B)/quarantinectl
	@if [ -d tests/e2e ]; then \
	  QD_BIN=$(B)/quarantined QD_CTL=$(B)/quarantinectl \
	    python3 -m unittest discover -s tests/e2e -t . ; \
	else echo "e2e-check: no end-to-end tests"; fi

# Windows (issue 17): the Windows side of the platform layer
# (daemon/plat_win32.c) cross-built with mingw-w64 into tests/win32's
# plat_check.exe, against libuv built from Debian's source package by
# scripts/windows/build-deps (cached in ~/.cache/quarantined/windows), and
# run under wine: Event Log calls (log lines and the eventlog sink's
# alerts), DACL check, DPAPI, replace, cmd.exe, the service control path
# under wine's service manager, and scripts/windows/install.cmd and
# uninstall.cmd installing, starting and removing it there; then
# quarantined.exe and quarantinectl.exe (make windows): -n, one poll cycle
# against the simulator over HTTPS, quarantinectl on the state it saved.
WB         := build-win
MINGW      := x86_64-w64-mingw32
WIN_CFLAGS := -std=c17 -D_GNU_SOURCE -D_WIN32_WINNT=0x0602 $(WARNINGS) \
              -O2 -g -include daemon/win32/compat.h -I$(WB) -Idaemon \
              -Idaemon/win32
WIN_LIBS   := -lws2_32 -liphlpapi -luserenv -ldbghelp -lole32 -luuid \
              -lcrypt32 -ladvapi32 -lbcrypt
WIN_PLAT   := daemon/plat.h daemon/plat_win32.h daemon/plat_win32.c \
              daemon/win32/compat.h daemon/win32/compat.c \
              daemon/win32/syslog.h \
              daemon/win32/messages.mc tests/win32/plat_check.c

$(WB)/plat_check.exe: $(WIN_PLAT) scripts/windows/build-deps
	@mkdir -p $(WB)
	$(Q)prefix=$$(scripts/windows/build-deps libuv1 | tail -n 1) && \
	$(MINGW)-windmc -h $(WB) -r $(WB) daemon/win32/messages.mc && \
	$(MINGW)-windres -i $(WB)/messages.rc -o $(WB)/messages.o && \
	$(MINGW)-gcc $(WIN_CFLAGS) -I$$prefix/include -o $@ \
	    tests/win32/plat_check.c daemon/plat_win32.c \
	    daemon/win32/compat.c $(WB)/messages.o \
	    $$prefix/lib/libuv.a $(WIN_LIBS)

# make windows: build-win/quarantined.exe and quarantinectl.exe, linked
# statically against libuv, libcurl (Schannel), cJSON, inih and OpenSSL
# built by build-deps.  The modules whose feature does not exist on
# Windows are replaced by their *_win32.c side (health, the local sinks,
# the descriptor limit, the csexport reader, which needs libxml2).
WIN_POSIX_ONLY := daemon/health.c daemon/sink_local.c daemon/csexport.c
WIN_SRCS := $(filter-out $(MAINS) $(CTL_SRCS) $(WIN_POSIX_ONLY) \
              daemon/%_posix.c,$(sort $(wildcard daemon/*.c)))
WIN_OBJS := $(WIN_SRCS:daemon/%.c=$(WB)/%.o)
WIN_DEPS_PKGS := libuv1 curl cjson libinih openssl
WIN_LIBS_ALL := -lcurl -lcjson -linih -lssl -lcrypto -luv -lsecur32 \
                -lbcrypt -lws2_32 $(WIN_LIBS) -lcrypt32 -lws2_32 -lwinpthread

$(WB)/deps.prefix: scripts/windows/build-deps | $(WB)
	$(Q)scripts/windows/build-deps $(WIN_DEPS_PKGS) | tail -n 1 > $@.tmp && \
	    mv $@.tmp $@

$(WB)/messages.o: daemon/win32/messages.mc | $(WB)
	$(Q)$(MINGW)-windmc -h $(WB) -r $(WB) $< && \
	    $(MINGW)-windres -i $(WB)/messages.rc -o $@

$(WB)/%.o: daemon/%.c $(WB)/deps.prefix $(WB)/messages.o
	$(QCC)$(MINGW)-gcc $(WIN_CFLAGS) -DCURL_STATICLIB -MMD -MP \
	    -DQD_VERSION=\"$(VERSION)\" \
	    -DQD_CONFFILE=\"C:/ProgramData/quarantined/quarantined.conf\" \
	    -DQD_CREDDIR=\"C:/ProgramData/quarantined/credentials\" \
	    -I$$(cat $(WB)/deps.prefix)/include -c -o $@ $<

# The POSIX functions the C runtime lacks (daemon/win32/compat.c), and
# mingw-w64's binmode.o: files open in binary mode, as on POSIX, not with
# the runtime's CR LF translation.
$(WB)/win32_compat.o: daemon/win32/compat.c daemon/win32/compat.h | $(WB)
	$(QCC)$(MINGW)-gcc $(WIN_CFLAGS) -MMD -MP -c -o $@ $<
WIN_BINMODE := $(shell $(MINGW)-gcc -print-file-name=binmode.o 2>/dev/null)

$(WB)/quarantined.exe: $(WB)/main.o $(WIN_OBJS) $(WB)/win32_compat.o \
                       $(WB)/messages.o
	$(QCC)$(MINGW)-gcc -static -o $@ $^ $(WIN_BINMODE) \
	    -L$$(cat $(WB)/deps.prefix)/lib $(WIN_LIBS_ALL)

$(WB)/quarantinectl.exe: $(WB)/quarantinectl.o \
                         $(CTL_SRCS:daemon/%.c=$(WB)/%.o) $(WIN_OBJS) \
                         $(WB)/win32_compat.o $(WB)/messages.o
	$(QCC)$(MINGW)-gcc -static -o $@ $^ $(WIN_BINMODE) \
	    -L$$(cat $(WB)/deps.prefix)/lib $(WIN_LIBS_ALL)

$(WB):
	$(Q)mkdir -p $@

windows: $(WB)/quarantined.exe $(WB)/quarantinectl.exe

-include $(wildcard $(WB)/*.d)

windows-check: $(WB)/plat_check.exe windows
	QD_WINBUILD=$(CURDIR)/$(WB) python3 -m unittest -v tests.win32.test_windows

# Every config key, command, option, alert type and metric is in its man
# page (and the bash completion); the man pages are clean under groff -ww.
docs-check:
	python3 -m unittest tests.docs.test_docs

# The Debian package in a booted Debian 12 container (tests/system); the
# root tarball is cached in /var/cache/quarantined-systest.
system-check: deb
	QD_DEB=$(CURDIR)/$(B)/pkg/quarantined_$(VERSION)_$(shell dpkg --print-architecture).deb \
	    python3 -m unittest tests.system.test_systemd -v

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && \
	  echo "format-check: $(words $(FORMAT_FILES)) files OK"

format:
	clang-format -i $(FORMAT_FILES)

# pyflakes (Debian's pyflakes3): unused imports and variables, undefined
# names, shadowed definitions.
lint-py:
	@pyflakes3 $(PY_FILES) && \
	  echo "lint-py: $(words $(PY_FILES)) files OK"

demo: deps
	@$(MAKE) --no-print-directory all
	scripts/demo

bench: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory bench-run

# bench-peer: the daemon against the official Graph SDK peer
# (tests/bench/peer); BENCH_SIZES, BENCH_CONFLICTS, BENCH_RUNS,
# BENCH_LATENCY_MS and BENCH_INFLIGHT choose a subset (scripts/bench-peer).
# bench-tenants: 1,000 tenants of 1,000 users in one daemon for three
# 5-minute cycles each, in real time (about 20 minutes).
bench-run: $(PEER_SDK)
	scripts/bench
	scripts/bench-alerts
	scripts/bench-peer --markdown $(B)/bench-peer.md
	scripts/bench-tenants 1000 1000 10 $(B)/quarantined

# The peer's SDK, exactly as package-lock.json pins it, from the npm
# registry (node and npm come from Debian through scripts/install-deps).
$(PEER_SDK): tests/bench/peer/package.json tests/bench/peer/package-lock.json
	cd tests/bench/peer && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# One side-by-side run at 10,000 users: checks that the daemon and the
# peer both finish and give figures; no timing is asserted.
bench-smoke: $(B)/quarantined $(PEER_SDK)
	QD_BIN=$(B)/quarantined scripts/bench-peer --smoke

# The journal catalog and the bash completions are installed when the
# tree has them.
CATALOG  := $(wildcard systemd/quarantined.catalog)
BASHCOMP := $(wildcard scripts/completion/*)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/quarantined $(DESTDIR)$(DOCDIR)
	install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/quarantined/credentials
	install -m 0755 $(B)/quarantined $(DESTDIR)$(SBINDIR)/quarantined
	install -m 0755 $(B)/quarantinectl $(DESTDIR)$(SBINDIR)/quarantinectl
	install -m 0644 man/quarantined.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/quarantinectl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/quarantined.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 conf/quarantined.conf \
	    $(DESTDIR)$(DOCDIR)/quarantined.conf.example
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    systemd/quarantined.service.in \
	    > $(DESTDIR)$(UNITDIR)/quarantined.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/quarantined.service
	$(if $(CATALOG),install -d $(DESTDIR)$(CATALOGDIR) && \
	    install -m 0644 $(CATALOG) $(DESTDIR)$(CATALOGDIR)/)
	$(if $(BASHCOMP),install -d $(DESTDIR)$(BASHCOMPDIR) && \
	    install -m 0644 $(BASHCOMP) $(DESTDIR)$(BASHCOMPDIR)/)
	test -e $(DESTDIR)$(SYSCONFDIR)/quarantined/quarantined.conf || \
	    install -m 0644 conf/quarantined.conf \
	        $(DESTDIR)$(SYSCONFDIR)/quarantined/quarantined.conf

# The Debian package, built from a copy of the tree in $(B)/pkg so that
# dpkg-buildpackage's output (written next to the source) stays there;
# then lintian, whose only accepted tags are the documented overrides.
deb:
	rm -rf $(B)/pkg && mkdir -p $(B)/pkg/quarantined-$(VERSION)
	tar --exclude=./.git --exclude=./build --exclude=./build-asan \
	    --exclude=./build-fuzz --exclude=./build-win \
	    --exclude=./tests/bench/peer/node_modules -cf - . | \
	    tar -C $(B)/pkg/quarantined-$(VERSION) -xf -
	cd $(B)/pkg/quarantined-$(VERSION) && dpkg-buildpackage -us -uc -b
	lintian --info --pedantic --fail-on error,warning,info,pedantic \
	    $(B)/pkg/*.changes

clean:
	rm -rf build build-asan build-fuzz build-win

-include $(OBJS:.o=.d) $(CTL_OBJS:.o=.d) $(B)/main.d $(B)/quarantinectl.d $(TEST_OBJS:.o=.d)

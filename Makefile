# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ioasid: one non-recursive GNU Makefile.
#
#   make                 build everything into build/
#   make check           install missing Debian packages, build, run every test tier
#   make demo            install missing packages, build, run the narrated demo
#   make check-layers    which object file uses which: no upward use, no loop (part of check)
#   make check-asan      unit + integration tiers under ASan/UBSan
#   make check-valgrind  unit tier and the daemon under valgrind --track-fds
#   make bench           benchmarks (ratios against a floor measured in the same run)
#   make fuzz            libFuzzer targets: the policy parser, the JSON parser, the snapshot reader
#   make install         DESTDIR=, prefix= (never overwrites /etc, never runs systemctl)
#   make format          clang-format every C file
#   make check-format    fail if any C file differs from what clang-format writes
#
# Sources are picked up by directory. Three static libraries, one per layer, each using only
# the layers below it (README, "Source layout"):
#   common/*.c          libioasid-core.a    host model, viability, kernel seam, uAPI, Varlink
#   policy/*.c          libioasid-policy.a  the pure rule engine
#   common/client/*.c   libioasid-client.a  client API, layout/limits.conf checks, bind/restore
#   lib/*.c             libioasid.so.0      the public client library (over the three above, -fPIC)
# ioasidd/*.c the daemon (policy, core), ioasidctl/*.c the CLI (client, policy, core),
# tests/unit/*.c the CUnit runner. Programs name the libraries top layer first and each
# library is also linked alone over the ones below it ($(B)/layers/), so a lower object's call
# into a higher layer is an undefined reference; check-layers also finds loops between object
# files and #includes of a higher layer.

SHELL := /bin/bash
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
# Keep the test tools' objects (intermediate files of a pattern chain) between builds.
.SECONDARY:

prefix ?= /usr
sbindir ?= $(prefix)/sbin
bindir ?= $(prefix)/bin
mandir ?= $(prefix)/share/man
docdir ?= $(prefix)/share/doc/ioasid
libdir ?= $(prefix)/lib
includedir ?= $(prefix)/include
pkgconfigdir ?= $(libdir)/pkgconfig
# The Varlink IDL files (io.ioasid.*.varlink), for varlinkctl and other clients.
varlinkdir ?= $(prefix)/share/varlink
sysconfdir ?= /etc
unitdir ?= $(prefix)/lib/systemd/system
sysusersdir ?= $(prefix)/lib/sysusers.d
tmpfilesdir ?= $(prefix)/lib/tmpfiles.d
modulesloaddir ?= $(prefix)/lib/modules-load.d
# bash-completion's own directory when its pkg-config file is installed, else the default.
bashcompdir ?= $(or $(shell pkg-config --variable=completionsdir bash-completion 2>/dev/null),$(prefix)/share/bash-completion/completions)
DESTDIR ?=

VERSION := 0.1

# Flavours: B is the build directory, SAN adds sanitizers.
B ?= build
SAN ?=
WERROR ?=
# Test-only switch (never in the installed binary): lets the daemon skip its own group
# bookkeeping so the kernel's refusal can be observed (real-kernel tier, scenario 4).
TESTING_BYPASS ?=

PKGS := libudev libsystemd json-c libnl-3.0 libnl-genl-3.0 libnl-route-3.0
TEST_PKGS := cunit

CC ?= cc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
	-Wno-unused-parameter -Wno-missing-field-initializers
HARDEN := -fstack-protector-strong -fstack-clash-protection -fcf-protection -fPIE \
	-D_FORTIFY_SOURCE=2
ifneq ($(SAN),)
HARDEN := -fPIE
endif
override CFLAGS += -std=gnu11 -D_GNU_SOURCE $(WARN) $(HARDEN) -I. \
	-DIOASID_VERSION='"$(VERSION)"' -DIOASID_SYSCONFDIR='"$(sysconfdir)"'
ifneq ($(WERROR),)
override CFLAGS += -Werror
endif
ifneq ($(SAN),)
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
endif
override LDFLAGS += -pie -Wl,-z,relro,-z,now

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

CORE_SRC := $(sort $(wildcard common/*.c))
POLICY_SRC := $(sort $(wildcard policy/*.c))
CLIENT_SRC := $(sort $(wildcard common/client/*.c))
IOASIDD_SRC := $(sort $(wildcard ioasidd/*.c))
IOASIDCTL_SRC := $(sort $(wildcard ioasidctl/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
LIB_SRC := $(sort $(wildcard lib/*.c))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
CORE_OBJ := $(call obj,$(CORE_SRC))
POLICY_OBJ := $(call obj,$(POLICY_SRC))
CLIENT_OBJ := $(call obj,$(CLIENT_SRC))
IOASIDD_OBJ := $(call obj,$(IOASIDD_SRC))
IOASIDCTL_OBJ := $(call obj,$(IOASIDCTL_SRC))
UNIT_OBJ := $(call obj,$(UNIT_SRC))
LIB_OBJ := $(call obj,$(LIB_SRC))
# libioasid.so: lib/*.c over the client, policy and core layers, all built again with -fPIC.
pic = $(patsubst %.c,$(B)/pic/%.o,$(1))
LIB_PIC := $(call pic,$(LIB_SRC))
LIB_DEPS_PIC := $(call pic,$(CLIENT_SRC) $(POLICY_SRC) $(CORE_SRC))
LIB_DEPS_PIC_A := $(B)/pic/libioasid-deps.a
LIBIOASID := $(B)/libioasid.so.0
LIBIOASID_PC := $(B)/ioasid.pc
# Daemon modules without main() or sd-event dispatch, unit-tested directly.
# Every daemon module but main.c, so unit tests can drive the manager directly.
DAEMON_UNIT_OBJ := $(call obj,$(filter-out ioasidd/main.c,$(IOASIDD_SRC)))

CORE_LIB := $(B)/libioasid-core.a
POLICY_LIB := $(B)/libioasid-policy.a
CLIENT_LIB := $(B)/libioasid-client.a
# Top layer first: an archive only resolves what the objects and archives before it need.
DAEMON_LIBS := $(POLICY_LIB) $(CORE_LIB)
CLI_LIBS := $(CLIENT_LIB) $(POLICY_LIB) $(CORE_LIB)
LAYER_LINKS := $(B)/layers/core $(B)/layers/policy $(B)/layers/client
IOASIDD := $(B)/ioasidd
IOASIDCTL := $(B)/ioasidctl
RUN_TESTS := $(B)/run-tests
TOOLS := $(patsubst tests/tools/%.c,$(B)/%,$(TOOL_SRC))

# Per-tool extra libraries (tests/tools/NAME.c -> TOOL_LIBS_NAME).
TOOL_LIBS_mktestbed = $(shell pkg-config --libs umockdev-1.0 2>/dev/null)
TOOL_CFLAGS_mktestbed = $(shell pkg-config --cflags umockdev-1.0 2>/dev/null)
# An LD_PRELOAD shim (adversarial test A2): a shared object, not a program.
TOOL_CFLAGS_peercred-eio = -fPIC
TOOL_LIBS_peercred-eio = -shared -ldl
# Another (daemon tier): no SO_PASSRIGHTS (pre-6.16), SO_PEERPIDFD failures (A7, A8).
TOOL_CFLAGS_sockopt-fault = -fPIC
TOOL_LIBS_sockopt-fault = -shared -ldl
# Another (benchmarks' native mode): reports sysfs for the test bed bind-mounted on /sys.
TOOL_CFLAGS_sysfs-magic = -fPIC
TOOL_LIBS_sysfs-magic = -shared -ldl
# Another (adversarial test D7): fails the Nth malloc/open/recvmsg/sendmsg of a session.
TOOL_CFLAGS_failnth = -fPIC
TOOL_LIBS_failnth = -shared -ldl

all: $(IOASIDD) $(IOASIDCTL) $(LAYER_LINKS) $(LIB_OBJ) $(LIBIOASID) $(LIBIOASID_PC)
.PHONY: all

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(if $(findstring tests/,$<),$(TEST_CFLAGS) $(TOOL_CFLAGS_$(basename $(notdir $<)))) \
		$(if $(findstring ioasidd/,$<),-I$(B)/gen) \
		$(if $(TESTING_BYPASS),-DIOASID_TESTING_BYPASS=1) -MMD -MP -c -o $@ $<

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -fPIC -MMD -MP -c -o $@ $<

$(LIB_DEPS_PIC_A): $(LIB_DEPS_PIC)
	rm -f $@ && $(AR) rcs $@ $^

# Only what lib/*.c reaches is pulled from the archive; the version script exports the public
# API (include/ioasid/ioasid.h) alone.
$(LIBIOASID): $(LIB_PIC) $(LIB_DEPS_PIC_A) lib/libioasid.sym
	$(CC) -shared -fPIC -Wl,-soname,libioasid.so.0 -Wl,--version-script=lib/libioasid.sym \
		-Wl,-z,relro,-z,now -Wl,-z,defs -Wl,--as-needed \
		$(if $(SAN),-fsanitize=address -fsanitize=undefined) -o $@ $(LIB_PIC) $(LIB_DEPS_PIC_A) \
		$(PKG_LIBS) -lm

$(LIBIOASID_PC): lib/ioasid.pc.in Makefile
	sed -e 's|@prefix@|$(prefix)|' -e 's|@libdir@|$(libdir)|' \
		-e 's|@includedir@|$(includedir)|' -e 's|@varlinkdir@|$(varlinkdir)|' \
		-e 's|@VERSION@|$(VERSION)|' $< > $@.tmp && mv $@.tmp $@

$(CORE_LIB): $(CORE_OBJ)
$(POLICY_LIB): $(POLICY_OBJ)
$(CLIENT_LIB): $(CLIENT_OBJ)
$(CORE_LIB) $(POLICY_LIB) $(CLIENT_LIB):
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

# Each library linked whole against only the libraries below it. A program's link does not
# catch every wrong-way call: when the program itself brought in the higher layer's object,
# the lower object's reference resolves to it. Here nothing above is linked, so a call from
# a library into a layer above it is an undefined reference and the build stops. The results
# are never run (no main, entry 0); they stamp a passed check.
$(B)/layers/core: $(CORE_LIB)
$(B)/layers/policy: $(POLICY_LIB) $(CORE_LIB)
$(B)/layers/client: $(CLIENT_LIB) $(POLICY_LIB) $(CORE_LIB)
$(LAYER_LINKS):
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -nostartfiles -Wl,-e,0 -o $@ -Wl,--whole-archive $< \
		-Wl,--no-whole-archive $(wordlist 2,3,$^) $(PKG_LIBS) -lm

# The daemon does not link the client library: a daemon file using it fails to link.
$(IOASIDD): $(IOASIDD_OBJ) $(DAEMON_LIBS)
	$(CC) $(LDFLAGS) -o $@ $(IOASIDD_OBJ) $(DAEMON_LIBS) $(PKG_LIBS) -lm

$(IOASIDCTL): $(IOASIDCTL_OBJ) $(CLI_LIBS)
	$(CC) $(LDFLAGS) -o $@ $(IOASIDCTL_OBJ) $(CLI_LIBS) $(PKG_LIBS) -lm

$(RUN_TESTS): $(UNIT_OBJ) $(DAEMON_UNIT_OBJ) $(CLI_LIBS)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(DAEMON_UNIT_OBJ) $(CLI_LIBS) $(PKG_LIBS) $(TEST_LIBS) -lm

# The daemon embeds the real IDL text (GetInterfaceDescription): common/*.varlink become
# C string literals in a generated header.
VARLINK_IDL := $(sort $(wildcard common/*.varlink))
$(B)/gen/varlink-idl.h: $(VARLINK_IDL)
	@mkdir -p $(dir $@)
	{ echo '/* Generated by the Makefile from the IDL files in common/: do not edit. */'; \
	  echo 'static const struct { const char *name; const char *text; } varlink_idl[] = {'; \
	  for f in $^; do \
		echo "	{ \"$$(basename $$f .varlink)\","; \
		sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/	  "/' -e 's/$$/\\n"/' $$f; \
		echo '	},'; \
	  done; \
	  echo '};'; } > $@.tmp && mv $@.tmp $@
$(IOASIDD_OBJ): $(B)/gen/varlink-idl.h

$(B)/%: $(B)/obj/tests/tools/%.o $(CLI_LIBS)
	$(CC) $(LDFLAGS) -o $@ $< $(CLI_LIBS) $(PKG_LIBS) $(TOOL_LIBS_$*) -lm

-include $(shell find $(B)/obj $(B)/pic -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------------------
# Debian packages the build and the tests need. 'deps' installs what is missing.
DEBIAN_DEPS := build-essential pkg-config libudev-dev libsystemd-dev libjson-c-dev \
	libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libcunit1-dev umockdev libumockdev-dev \
	python3-gi gir1.2-umockdev-1.0 \
	pciutils udev jq python3 python3-yaml mandoc util-linux procps systemd clang clang-format valgrind \
	libclang-rt-14-dev \
	debootstrap qemu-system-x86 busybox-static cpio xz-utils kmod
deps:
	@missing=$$(for p in $(DEBIAN_DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: missing packages and not root:" $$missing >&2; exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends $$missing; }; \
	fi
.PHONY: deps

# ---------------------------------------------------------------------------
# Tests. Every tier prints its own summary; a skipped tier says SKIPPED and why.
build-tests: all $(RUN_TESTS) $(TOOLS)
.PHONY: build-tests

# The builds of the checks run on every core (the tiers themselves one after another).
JOBS ?= $(shell nproc 2>/dev/null || echo 1)

check: deps
	@$(MAKE) --no-print-directory check-format
	@$(MAKE) --no-print-directory -j$(JOBS) build-tests
	@$(MAKE) --no-print-directory check-layers check-unit check-docs check-inspect check-live check-daemon check-daemon-bypass check-integration check-units check-vm
	@# Tier 5 of DESIGN.md: sanitizers, fd leaks (valgrind --track-fds) and a fuzz smoke run.
	@$(MAKE) --no-print-directory check-asan check-valgrind check-fuzz
.PHONY: check

# Daemon protocol/robustness checks (tests/daemon): a real ioasidd on a temp socket, sim kernel.
check-daemon: build-tests
	python3 tests/daemon/adversarial.py $(B)
	python3 tests/daemon/fdstore.py $(B)
	python3 tests/daemon/failnth.py $(B)
	python3 tests/daemon/config.py $(B)
	python3 tests/daemon/hold.py $(B)
	python3 tests/daemon/vdpa.py $(B)
.PHONY: check-daemon

# The test-only bypass build (never installed) next to the normal one.
# The test-only ioasidd goes to $(B)/bypass, where the VM tier (tests/vm/run.sh) takes it too.
check-daemon-bypass: build-tests
	@$(MAKE) --no-print-directory -j$(JOBS) B=$(B)/bypass TESTING_BYPASS=1 $(B)/bypass/ioasidd
	python3 tests/daemon/bypass.py $(B) $(B)/bypass
.PHONY: check-daemon-bypass

# Layers (tests/tools/layers.map, README "Source layout"), from nm of the objects: which
# object uses which, no use of a higher layer, no loop between object files, no #include of
# a higher layer. The checker's own test first. The daemon's objects are checked like the
# rest: no loop among them either.
check-layers: all
	python3 tests/tools/link-layers-test.py
	python3 tests/tools/link-layers.py $(B)
.PHONY: check-layers

check-unit: $(RUN_TESTS)
	$(RUN_TESTS)
.PHONY: check-unit

check-docs: all
	B=$(B) tests/check-docs.sh
.PHONY: check-docs

check-inspect: build-tests
	B=$(B) tests/inspect/run.sh
.PHONY: check-inspect

check-live: build-tests
	B=$(B) tests/live/run.sh
.PHONY: check-live

check-integration: build-tests
	B=$(B) tests/integration/run.sh
.PHONY: check-integration

check-units: build-tests
	B=$(B) tests/check-units.sh
.PHONY: check-units

# The whole tier only: a list narrowed by IOASID_VM_SCENARIOS is for development.
check-vm: build-tests
	@if [ -n "$$IOASID_VM_SCENARIOS" ]; then \
		echo "check-vm: IOASID_VM_SCENARIOS='$$IOASID_VM_SCENARIOS' narrows the tier: unset it" >&2; exit 1; fi
	B=$(B) tests/vm/run.sh
.PHONY: check-vm

check-asan: deps
	@$(MAKE) --no-print-directory -j$(JOBS) B=build-asan SAN=1 build-tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/run-tests
	ASAN_OPTIONS=detect_leaks=1 B=build-asan tests/integration/run.sh
.PHONY: check-asan

check-valgrind: deps build-tests
	valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--track-fds=yes -q $(RUN_TESTS)
	B=$(B) VALGRIND=1 tests/integration/run.sh
.PHONY: check-valgrind

# Every comparison in the checks listed in tests/mutation/targets, inverted and moved by one,
# one mutant at a time against the fast tiers (unit first, the others side by side), and last
# the unit tier built with ASan/UBSan (an off-by-one that only reads out of bounds), which only
# the mutants every other tier let through pay for; tests/mutation/equivalent
# lists the mutants no behaviour can tell apart, with why (long: not part of 'check').
# Survivors of a run, after tests were added: tests/mutation/run.py --match REGEX.
check-mutation: deps
	python3 tests/mutation/run.py --tiers unit,fdstore,daemon,integration,asan
.PHONY: check-mutation

bench: deps build-tests
	B=$(B) tests/bench/run.sh
.PHONY: bench

demo: deps
	@echo "demo: building (quietly; 'make' shows the compiler lines)"
	@$(MAKE) --no-print-directory -s build-tests
	B=$(B) tests/demo.sh
.PHONY: demo

FUZZ_SRC := $(sort $(wildcard tests/fuzz/*.c))
fuzz: deps
	B=$(B) tests/fuzz/run.sh
.PHONY: fuzz

# A short run of the same fuzzers, part of `make check` (the 10-minute run is `make fuzz`).
check-fuzz: deps
	FUZZ_SECONDS=$${FUZZ_SECONDS:-30} B=$(B) tests/fuzz/run.sh
.PHONY: check-fuzz

# .clang-format is tuned to clang-format 14 (Debian 12); prefer that binary when both exist.
CLANG_FORMAT ?= $(shell command -v clang-format-14 || echo clang-format)
format:
	$(CLANG_FORMAT) -i $$(git ls-files '*.c' '*.h')
.PHONY: format

# The tree as clang-format writes it: lists the files that differ and the start of the diff.
check-format:
	CLANG_FORMAT=$(CLANG_FORMAT) tests/check-format.sh
.PHONY: check-format

install: all
	install -Dm0755 $(IOASIDD) $(DESTDIR)$(sbindir)/ioasidd
	install -Dm0755 $(IOASIDCTL) $(DESTDIR)$(bindir)/ioasidctl
	install -Dm0644 ioasidctl/completion.bash $(DESTDIR)$(bashcompdir)/ioasidctl
	install -Dm0755 $(LIBIOASID) $(DESTDIR)$(libdir)/libioasid.so.0
	ln -sf libioasid.so.0 $(DESTDIR)$(libdir)/libioasid.so
	install -Dm0644 include/ioasid/ioasid.h $(DESTDIR)$(includedir)/ioasid/ioasid.h
	install -Dm0644 $(LIBIOASID_PC) $(DESTDIR)$(pkgconfigdir)/ioasid.pc
	for f in $(VARLINK_IDL); do install -Dm0644 $$f $(DESTDIR)$(varlinkdir)/$$(basename $$f); done
	for m in $(wildcard man/*.[0-9]); do install -Dm0644 $$m $(DESTDIR)$(mandir)/man$${m##*.}/$$(basename $$m); done
	# Units name the daemon by its path: follow sbindir when it is not /usr/sbin.
	for u in $(wildcard units/*.service units/*.socket); do \
		install -d $(DESTDIR)$(unitdir) && \
		sed 's|^ExecStart=/usr/sbin/|ExecStart=$(sbindir)/|' $$u >$(DESTDIR)$(unitdir)/$$(basename $$u) && \
		chmod 0644 $(DESTDIR)$(unitdir)/$$(basename $$u) || exit 1; \
	done
	$(if $(wildcard units/ioasid.sysusers.conf),install -Dm0644 units/ioasid.sysusers.conf $(DESTDIR)$(sysusersdir)/ioasid.conf)
	$(if $(wildcard units/ioasid.tmpfiles.conf),install -Dm0644 units/ioasid.tmpfiles.conf $(DESTDIR)$(tmpfilesdir)/ioasid.conf)
	$(if $(wildcard units/ioasid.modules-load.conf),install -Dm0644 units/ioasid.modules-load.conf $(DESTDIR)$(modulesloaddir)/ioasid.conf)
	$(if $(wildcard ioasid.conf.example),install -Dm0644 ioasid.conf.example $(DESTDIR)$(docdir)/ioasid.conf.example)
	@if [ ! -e ioasid.conf.example ]; then :; \
	elif [ -e $(DESTDIR)$(sysconfdir)/ioasid/ioasid.conf ]; then \
		echo "install: keeping existing $(DESTDIR)$(sysconfdir)/ioasid/ioasid.conf"; \
	else \
		install -Dm0600 ioasid.conf.example $(DESTDIR)$(sysconfdir)/ioasid/ioasid.conf; \
	fi
.PHONY: install

clean:
	rm -rf build build-asan build-fuzz build-bypass
.PHONY: clean

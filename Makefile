# bridgekeeper: build, install, demo, test, bench.
# Every target that needs packages installs them first (Debian 12), so the README's two
# commands work verbatim on a fresh machine as root.

PREFIX     ?= /usr/local
DESTDIR    ?=
LIBEXECDIR ?= $(PREFIX)/libexec
BINDIR     ?= $(PREFIX)/bin
ACLDIR     ?= /etc/qemu
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# MODE=setuid (default): helper installed root:root 4755. MODE=caps: 0755 + cap_net_admin+ep.
MODE       ?= setuid
# LINK=dynamic (default): glibc linked dynamically, everything else static (Embedded Swift's
# standard library and libcap; HELPER_RUNTIME=regular: the Swift runtime, libstdc++, libgcc too),
# PIE, no RUNPATH. NEEDED is exactly libc.so.6 (regular: and libm.so.6 and ld-linux, for
# __tls_get_addr and the unwinder's _dl_find_object): user and group names resolve through NSS
# modules (sssd, LDAP, systemd), which only a dynamic glibc can load (a static glibc's
# getpwnam_r dlopens libnss_systemd for a name that is not in /etc/passwd and crashes).
# In setuid and file-capability modes the kernel sets AT_SECURE and ld.so ignores LD_PRELOAD,
# LD_LIBRARY_PATH and the other LD_* variables.
# LINK=static: one static-PIE executable, no loader, no shared libraries (about 0.3 ms faster to
# start, README), for sites whose users and groups are all in /etc/passwd and /etc/group.
LINK       ?= dynamic
# HELPER_RUNTIME=embedded (default): the helper is built with Embedded Swift
# (scripts/embedded-helper.sh; pinned to the toolchain it was tested with, fails with one line on
# another): no Swift runtime start-up, no SWIFT_* variables, no backtracer (README, "A lean
# start"). HELPER_RUNTIME=regular: the same sources through SwiftPM on the regular Swift runtime
# (the bench's comparison: `make helper HELPER_RUNTIME=regular HELPER_BUILD=.build-regular`, then
# `OURS=.build-regular/release/bridgekeeper-helper scripts/bench.sh`; tests and gates take
# BK_HELPER_RUNTIME=regular). The CLI, the bench, unit tests and fuzzers are always regular, so
# the helper's modules compile in both modes on every `make test`.
HELPER_RUNTIME ?= embedded
SWIFT      ?= swift

RELEASE      = -c release --disable-local-rpath
# The helper imports neither Concurrency nor _StringProcessing; not importing them implicitly keeps
# libdispatch's start-up work out of the static binary (measured: about 0.06 ms per call).
NO_IMPLICIT  = -Xswiftc -Xfrontend -Xswiftc -disable-implicit-concurrency-module-import \
               -Xswiftc -Xfrontend -Xswiftc -disable-implicit-string-processing-module-import
# Static PIE: -static-executable selects the static Swift runtime and glibc; -static-pie (given to
# clang, which then ignores -static) links glibc's self-relocating rcrt1.o with -pie and no
# interpreter, so the kernel loads the helper at a random address. Every archive involved is PIC
# (the release gates check the result is DYN without INTERP/NEEDED, and that it moves).
# gold, the Swift driver's default linker, has no --no-dynamic-linker; lld (shipped with the
# toolchain) links it and, unlike GNU ld here, keeps the swift5_* metadata in read-only segments
# and emits a GNU_RELRO segment. RELRO + BIND_NOW: glibc's static-PIE start-up applies the
# relocations, then makes the relocated read-only data (GOT, .data.rel.ro) read-only again.
# pack-relative-relocs (DT_RELR, glibc >= 2.36, linked in statically) shrinks the 17,000 relative
# relocations from 400 KiB to 3 KiB: about 0.03 ms less start-up per call (README, measured).
HARDEN       = -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
LINK_static  = -Xswiftc -static-executable -Xswiftc -use-ld=lld -Xswiftc -Xclang-linker -Xswiftc -static-pie \
               $(HARDEN) -Xlinker -z -Xlinker pack-relative-relocs $(NO_IMPLICIT) -Xcc -DBRIDGEKEEPER_STATIC_NSS
# The Swift driver links libstdc++ and libcap by -l, which finds the shared objects; a private
# directory found first (pkg-config's libcap.pc names it) holds linker scripts of those names
# that read the static archives instead. -static-libgcc replaces libgcc_s with libgcc_eh.
# --no-export-dynamic undoes the -export-dynamic of the toolchain's static-stdlib-args.lnk: nothing
# loads code that links against the helper, and 1,600 exported runtime symbols cost ld.so and
# the page cache at every start (measured: 13 page faults and about 0.1 ms of CPU per run; the
# static link mode exports nothing and works the same way).
STATIC_LIBS  = $(HELPER_BUILD)/static-libs
LINK_dynamic = --static-swift-stdlib -Xswiftc -use-ld=lld -Xswiftc -Xclang-linker -Xswiftc -pie \
               -Xswiftc -Xclang-linker -Xswiftc -static-libgcc -Xlinker --no-export-dynamic \
               $(HARDEN) -Xlinker -z -Xlinker pack-relative-relocs $(NO_IMPLICIT)
ENV_static   =
ENV_dynamic  = PKG_CONFIG_PATH=$(abspath $(STATIC_LIBS))
HELPER_BUILD = .build-helper
HOOKS_BUILD  = .build-testhooks

HELPER = $(HELPER_BUILD)/release/bridgekeeper-helper
HOOKS_HELPER = $(HOOKS_BUILD)/release/bridgekeeper-helper
CLI    = .build/release/bridgekeeper
BENCH  = .build/release/bridgekeeper-bench
COMPLETIONS = .build/completions

# Packages: build (libcap-dev), run and test (iproute2, setpriv, setcap, strace), the stock
# helper as the differential oracle and QEMU itself (qemu-system-x86), the guest scenario
# (dnsmasq-base, busybox-static), POSIX ACL entries and the comparisons of the audit tests (acl, python3),
# the man page checks (groff-base, man-db, mandoc), the package checks (lintian; dpkg-dev and
# binutils come with the Swift toolchain's build dependencies).
BUILD_DEPS = libcap-dev pkg-config
RUN_DEPS   = iproute2 util-linux libcap2-bin
TEST_DEPS  = strace qemu-system-x86 dnsmasq-base busybox-static kmod xz-utils gcc libc6-dev acl python3 \
             groff-base man-db mandoc nftables lintian

.PHONY: all build helper testhooks-helper static-libs cli completions deps-build deps-test install install-docs uninstall \
        uninstall-docs demo test fuzz bench clean deb install-default-helper uninstall-default-helper

all: build

build: helper cli

deps-build:
	@scripts/ensure-packages.sh $(BUILD_DEPS) $(RUN_DEPS)

deps-test:
	@scripts/ensure-packages.sh $(BUILD_DEPS) $(RUN_DEPS) $(TEST_DEPS)

ifeq ($(HELPER_RUNTIME),embedded)
helper: deps-build
	scripts/embedded-helper.sh $(LINK) '' $(HELPER)

# The same helper with the test-only pause points compiled in (never installed; see
# Sources/CBridgeShims: BRIDGEKEEPER_TEST_HOOKS). Release gates check $(HELPER) has none.
testhooks-helper: deps-build
	scripts/embedded-helper.sh $(LINK) hooks $(HOOKS_HELPER)
else ifeq ($(HELPER_RUNTIME),regular)
# An Embedded build writes its binary where SwiftPM's product is (or makes release/ a plain
# directory): removing it makes SwiftPM link its own again instead of keeping ours as up to date.
helper: deps-build $(if $(filter dynamic,$(LINK)),static-libs)
	@if [ -d $(HELPER_BUILD)/release ] && [ ! -L $(HELPER_BUILD)/release ]; then rm -rf $(HELPER_BUILD)/release; fi; rm -f $(HELPER)
	$(ENV_$(LINK)) $(SWIFT) build $(RELEASE) $(LINK_$(LINK)) --scratch-path $(HELPER_BUILD) --product bridgekeeper-helper

testhooks-helper: deps-build $(if $(filter dynamic,$(LINK)),static-libs)
	@if [ -d $(HOOKS_BUILD)/release ] && [ ! -L $(HOOKS_BUILD)/release ]; then rm -rf $(HOOKS_BUILD)/release; fi; rm -f $(HOOKS_HELPER)
	$(ENV_$(LINK)) $(SWIFT) build $(RELEASE) $(LINK_$(LINK)) -Xcc -DBRIDGEKEEPER_TEST_HOOKS --scratch-path $(HOOKS_BUILD) --product bridgekeeper-helper
else
$(error HELPER_RUNTIME must be embedded or regular)
endif

# The linker scripts of LINK=dynamic (see STATIC_LIBS); rewritten every time (cheap), so a
# toolchain or libcap upgrade is picked up.
static-libs:
	@scripts/static-libs.sh $(STATIC_LIBS)

cli: deps-build
	$(SWIFT) build $(RELEASE) --static-swift-stdlib --product bridgekeeper
	$(SWIFT) build $(RELEASE) --static-swift-stdlib --product bridgekeeper-bench

# Shell completions from ArgumentParser's generator (hidden subcommands are left out), remade
# when the CLI is newer than them.
COMPLETION_FILES = $(COMPLETIONS)/bridgekeeper.bash $(COMPLETIONS)/bridgekeeper.zsh $(COMPLETIONS)/bridgekeeper.fish
completions: cli $(COMPLETION_FILES)

$(COMPLETIONS)/bridgekeeper.%: $(CLI)
	install -d $(COMPLETIONS)
	$(CLI) --generate-completion-script $* > $@.tmp
	mv $@.tmp $@

$(CLI):
	@echo "$(CLI) is missing: run make cli (or make build) first"; exit 1

# The man pages (man/) and the completions; also used on its own with DESTDIR for packaging.
install-docs: $(COMPLETION_FILES)
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0644 man/bridgekeeper.1 $(DESTDIR)$(MANDIR)/man1/bridgekeeper.1
	install -m 0644 man/bridge.conf.5 $(DESTDIR)$(MANDIR)/man5/bridge.conf.5
	install -m 0644 man/bridgekeeper-helper.8 $(DESTDIR)$(MANDIR)/man8/bridgekeeper-helper.8
	install -m 0644 $(COMPLETIONS)/bridgekeeper.bash $(DESTDIR)$(BASHCOMPDIR)/bridgekeeper
	install -m 0644 $(COMPLETIONS)/bridgekeeper.zsh $(DESTDIR)$(ZSHCOMPDIR)/_bridgekeeper
	install -m 0644 $(COMPLETIONS)/bridgekeeper.fish $(DESTDIR)$(FISHCOMPDIR)/bridgekeeper.fish

uninstall-docs:
	rm -f $(DESTDIR)$(MANDIR)/man1/bridgekeeper.1 $(DESTDIR)$(MANDIR)/man5/bridge.conf.5 \
		$(DESTDIR)$(MANDIR)/man8/bridgekeeper-helper.8 $(DESTDIR)$(BASHCOMPDIR)/bridgekeeper \
		$(DESTDIR)$(ZSHCOMPDIR)/_bridgekeeper $(DESTDIR)$(FISHCOMPDIR)/bridgekeeper.fish

install: build install-docs
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(BINDIR)
	install -s -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/bridgekeeper
ifeq ($(MODE),caps)
	install -s -m 0755 $(HELPER) $(DESTDIR)$(LIBEXECDIR)/bridgekeeper-helper
	setcap cap_net_admin+ep $(DESTDIR)$(LIBEXECDIR)/bridgekeeper-helper
else ifeq ($(MODE),setuid)
	install -s -o root -g root -m 4755 $(HELPER) $(DESTDIR)$(LIBEXECDIR)/bridgekeeper-helper
else
	$(error MODE must be setuid or caps)
endif
	@if [ -e $(DESTDIR)$(ACLDIR)/bridge.conf ]; then \
		echo "keeping the existing $(DESTDIR)$(ACLDIR)/bridge.conf"; \
	else \
		install -d -m 0755 $(DESTDIR)$(ACLDIR); \
		install -o root -g root -m 0644 acl/bridge.conf $(DESTDIR)$(ACLDIR)/bridge.conf; \
		echo "installed the sample $(DESTDIR)$(ACLDIR)/bridge.conf (it allows nothing until you edit it)"; \
	fi

# Removes the programs, man pages and completions; leaves $(ACLDIR)/bridge.conf, which holds the
# administrator's policy.
uninstall: uninstall-docs
	rm -f $(DESTDIR)$(LIBEXECDIR)/bridgekeeper-helper $(DESTDIR)$(BINDIR)/bridgekeeper

# The Debian packages in $(DEB_OUT) (scripts/make-deb.sh): bridgekeeper, bridgekeeper-default-helper
# and bridgekeeper-dbgsym, version DEB_VERSION (default: Installation.version).
DEB_OUT     ?= .build/deb
DEB_VERSION ?=
deb: build completions
	HELPER=$(HELPER) CLI=$(CLI) DEB_OUT=$(DEB_OUT) DEB_VERSION=$(DEB_VERSION) BK_COMPLETIONS_DIR=$(COMPLETIONS) \
		scripts/make-deb.sh

# QEMU's default helper path (/usr/lib/qemu/qemu-bridge-helper) made to run the installed
# $(LIBEXECDIR)/bridgekeeper-helper: a local dpkg-divert renames the stock file, and the uninstall
# target renames it back (scripts/default-helper.sh). The package bridgekeeper-default-helper
# does the same for a package install.
install-default-helper:
	@scripts/default-helper.sh install $(LIBEXECDIR)/bridgekeeper-helper

uninstall-default-helper:
	@scripts/default-helper.sh uninstall $(LIBEXECDIR)/bridgekeeper-helper

demo: build
	scripts/demo.sh
	$(if $(GUEST),@scripts/ensure-packages.sh $(TEST_DEPS) && Tests/Guest/demo-guest.sh)

test: deps-test build testhooks-helper completions
	scripts/test.sh

# libFuzzer targets (ACL parser, ACL loader, helper arguments), FUZZ_SECONDS each, after replaying
# Tests/Fuzz/corpus-regressions/. `make test` runs them for 60 s each.
FUZZ_SECONDS ?= 300
fuzz:
	Tests/Fuzz/run.sh $(FUZZ_SECONDS)

# The helper against the stock helper (scripts/bench.sh), then `bridgekeeper matrix` for 10,000
# users and 10 bridges (scripts/bench-matrix.sh).
bench: deps-test build
	scripts/bench.sh
	scripts/bench-matrix.sh

clean:
	rm -rf .build $(HELPER_BUILD) $(HOOKS_BUILD) .build-embedded

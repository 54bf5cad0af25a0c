# reactor -- one plain GNU Makefile: library, examples, tests, benchmarks,
# install, demo. Targets:
#
#   make                 build/lib/libreactor.{a,so} and build/examples/*
#   make test            every doctest suite (loop suites once per backend),
#                        ending with one line "N passed, N failed"
#   make SANITIZE=address,undefined test    (or SANITIZE=thread) in build/san-*/
#   make CXX=clang++ STDLIB=libc++ test     clang with LLVM's libc++, in build/clang-libc++/
#   make check-portable  everything built as on a system without the Linux
#                        extras (kqueue emulation, Linux-only names poisoned),
#                        then its suites on kqueue and poll, in build/portable/
#   make bench           benchmark programs under build/bench/
#   make bench-http      http_hello vs raw epoll, nginx, Node with wrk (~7 min)
#   make bench-scaling   one loop against two (echo_server, http_hello)
#   make demo            the C10k load test (scripts/c10k.sh)
#   make install PREFIX=/some/dir   headers, libraries, pkg-config, CMake package
#   make fuzz            libFuzzer targets (clang), FUZZ_SECONDS each
#
# Sources are found by wildcard: a new src/*.cpp, src/*/*.cpp, tests/*_test.cpp
# or examples/*.cpp needs no edit here.

VERSION    := 0.1.0
SOVERSION  := 0
PREFIX     ?= /usr/local
# `c++` unless the caller names a compiler: GNU make's built-in default for
# CXX is g++, which `?=` would keep, and FreeBSD ships only clang as c++.
ifeq ($(origin CXX),default)
CXX        := c++
endif
SANITIZE   ?=
# STDLIB=libc++ builds against LLVM's C++ library (-stdlib=libc++), the
# system library of FreeBSD and macOS; scripts/install-deps.sh installs it
# on Debian.
STDLIB     ?=
# PORTABLE=1: see check-portable below.
PORTABLE   ?=
comma      := ,
# Each toolchain and mode has a build folder of its own, so their objects
# never mix: build/, build/clang-libc++/, build/portable/, build/san-*/ and
# their combinations (build/clang-libc++/portable/san-address-undefined/).
CXX_FAMILY := $(if $(findstring clang,$(notdir $(firstword $(CXX)))),clang,$(if $(findstring g++,$(notdir $(firstword $(CXX)))),gcc,$(notdir $(firstword $(CXX)))))
BUILD      ?= build$(if $(STDLIB),/$(CXX_FAMILY)-$(STDLIB))$(if $(PORTABLE),/portable)$(if $(SANITIZE),/san-$(subst $(comma),-,$(SANITIZE)))

OPT        ?= $(if $(SANITIZE),-O1,-O2) -g
SANFLAGS   := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all)
WARNINGS   := -Wall -Wextra -Wshadow -Wnon-virtual-dtor
# `override`: a CPPFLAGS (CXXFLAGS, LDFLAGS) given on the command line, e.g.
# CPPFLAGS=-I/usr/local/include for doctest on FreeBSD or Homebrew, adds to
# these rather than replacing them.
override CPPFLAGS += -Iinclude -Isrc
override CXXFLAGS += -std=c++20 $(OPT) $(WARNINGS) -pthread -fPIC $(SANFLAGS)
override LDFLAGS  += -pthread $(SANFLAGS)
DEPFLAGS    = -MMD -MP
ifneq ($(STDLIB),)
override CXXFLAGS += -stdlib=$(STDLIB)
override LDFLAGS  += -stdlib=$(STDLIB)
endif

UNAME      := $(shell uname -s)
# On Linux the kqueue backend is compiled into the test build against the
# emulation in tests/kqueue_emu/, so the whole suite runs on it there too;
# the suites marked for it run on kqueue once per emulated kernel
# (REACTOR_KQUEUE_FLAVOR, tests/kqueue_emu/sys/event.h). Elsewhere the
# real kernel answers and there is one flavour: its own.
ifeq ($(UNAME),Linux)
TEST_CPPFLAGS := -DREACTOR_KQUEUE_EMULATION -Itests/kqueue_emu
KQ_EMU_SRCS   := $(wildcard tests/kqueue_emu/*.cpp)
BACKENDS      ?= $(if $(PORTABLE),kqueue poll,epoll kqueue poll)
KQUEUE_FLAVORS ?= freebsd macos
else
BACKENDS      ?= kqueue poll
KQUEUE_FLAVORS ?=
endif

# Shared library: an ELF .so with a soname, or on macOS a .dylib that
# carries its install name (Apple's linker has no -soname).
ifeq ($(UNAME),Darwin)
SHARED_NAME   := libreactor.dylib
SONAME        := libreactor.$(SOVERSION).dylib
SHARED_REAL   := libreactor.$(VERSION).dylib
SHARED_LDFLAGS = -dynamiclib -Wl,-install_name,$(abspath $(PREFIX))/lib/$(SONAME)
else
SHARED_NAME   := libreactor.so
SONAME        := libreactor.so.$(SOVERSION)
SHARED_REAL   := libreactor.so.$(VERSION)
SHARED_LDFLAGS = -shared -Wl,-soname,$(SONAME)
endif

# check-portable: everything compiled as on a system with plain POSIX plus
# kqueue. base/platform.hpp turns every Linux extra off, and the poison
# header makes any later mention of a Linux-only name an error; the kqueue
# emulation itself (a stand-in for a kernel) is exempt.
ifneq ($(PORTABLE),)
override CPPFLAGS += -DREACTOR_FORCE_PORTABLE=1
PORTABLE_FLAGS := -include tests/portable/poison.hpp
$(BUILD)/testobj/tests/kqueue_emu/%.o: PORTABLE_FLAGS :=
# The two teaching programs about the kernels' own pollers (raw epoll or
# kqueue, no library) choose by the system itself; their kqueue half is
# exercised against the emulation in every test build.
OS_POLLER_EXAMPLES := bare_poller_echo edge_pitfall
$(addprefix $(BUILD)/examples/,$(OS_POLLER_EXAMPLES)) $(addprefix $(BUILD)/test-examples/,$(OS_POLLER_EXAMPLES)): private PORTABLE_FLAGS :=
endif

# Every build of the test library has the fault-injection seam
# (src/base/syscall.hpp, tests/fault/): the shipped library never does.
TEST_CPPFLAGS += -DREACTOR_FAULT_INJECTION
FAULT_SRCS    := $(wildcard tests/fault/*.cpp)

LIB_SRCS     := $(sort $(wildcard src/*.cpp src/*/*.cpp))
LIB_OBJS     := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
TESTLIB_OBJS := $(LIB_SRCS:%.cpp=$(BUILD)/testobj/%.o) $(KQ_EMU_SRCS:%.cpp=$(BUILD)/testobj/%.o) \
                $(FAULT_SRCS:%.cpp=$(BUILD)/testobj/%.o)
STATIC_LIB   := $(BUILD)/lib/libreactor.a
SHARED_LIB   := $(BUILD)/lib/$(SHARED_NAME)
TEST_LIB     := $(BUILD)/lib/libreactor_test.a

# Examples: examples/NAME.cpp is one program; examples/NAME/*.cpp is one
# program built from several files.
EXAMPLE_SRCS := $(wildcard examples/*.cpp)
EXAMPLE_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard examples/*/*.cpp))))
SINGLE_EXAMPLES := $(EXAMPLE_SRCS:examples/%.cpp=$(BUILD)/examples/%)
MULTI_EXAMPLES  := $(EXAMPLE_DIRS:examples/%=$(BUILD)/examples/%)
EXAMPLES     := $(SINGLE_EXAMPLES) $(MULTI_EXAMPLES)
# The suites drive the examples as a user would, on every backend; so they
# get their own build linked against the test library (which has the kqueue
# emulation on Linux), in $(BUILD)/test-examples/.
SINGLE_TEST_EXAMPLES := $(SINGLE_EXAMPLES:$(BUILD)/examples/%=$(BUILD)/test-examples/%)
MULTI_TEST_EXAMPLES  := $(MULTI_EXAMPLES:$(BUILD)/examples/%=$(BUILD)/test-examples/%)
TEST_EXAMPLES        := $(SINGLE_TEST_EXAMPLES) $(MULTI_TEST_EXAMPLES)

# Tests: tests/NAME_test.cpp is one suite; the other tests/*.cpp (the doctest
# main and shared helpers) are linked into every suite.
TEST_SRCS    := $(wildcard tests/*_test.cpp)
TEST_SUPPORT := $(filter-out $(TEST_SRCS),$(wildcard tests/*.cpp))
TEST_BINS    := $(TEST_SRCS:tests/%.cpp=$(BUILD)/tests/%)
TEST_SUPPORT_OBJS := $(TEST_SUPPORT:%.cpp=$(BUILD)/testobj/%.o)

BENCH_SRCS   := $(wildcard tests/bench/*.cpp)
BENCHES      := $(BENCH_SRCS:tests/bench/%.cpp=$(BUILD)/bench/%)

DEPS_STAMP   := $(BUILD)/.deps-ok
# A build with STDLIB checks its toolchain before the first object; the
# default build needs nothing installed (DESIGN.md).
TOOLCHAIN_STAMP := $(if $(STDLIB),| $(BUILD)/.toolchain-ok)

.PHONY: all lib examples test bench bench-http bench-scaling demo install uninstall fuzz clean check-deps check-portable
.DEFAULT_GOAL := all
# Keep object files of tests and examples between runs.
.SECONDARY:

all: lib examples
lib: $(STATIC_LIB) $(SHARED_LIB)
examples: $(EXAMPLES)
bench: $(BENCHES)
bench-http: examples
	BUILD=$(BUILD) scripts/bench-http.sh
bench-scaling: examples
	BUILD=$(BUILD) scripts/bench-scaling.sh

$(STATIC_LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CXX) $(SHARED_LDFLAGS) $(LDFLAGS) -o $@ $^

$(TEST_LIB): $(TESTLIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/%.o: %.cpp $(TOOLCHAIN_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(PORTABLE_FLAGS) $(CPPFLAGS) $(CXXFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/testobj/%.o: %.cpp | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(PORTABLE_FLAGS) $(CPPFLAGS) $(TEST_CPPFLAGS) -Itests $(CXXFLAGS) $(DEPFLAGS) -c -o $@ $<

$(SINGLE_EXAMPLES): $(BUILD)/examples/%: examples/%.cpp $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CXX) $(PORTABLE_FLAGS) $(CPPFLAGS) $(CXXFLAGS) $(DEPFLAGS) -o $@ $< $(STATIC_LIB) $(LDFLAGS)

# A multi-file example: every .cpp in examples/NAME/.
.SECONDEXPANSION:
$(MULTI_EXAMPLES): $(BUILD)/examples/%: $$(wildcard examples/%/*.cpp) $$(wildcard examples/%/*.hpp) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CXX) $(PORTABLE_FLAGS) $(CPPFLAGS) $(CXXFLAGS) -o $@ $(filter %.cpp,$^) $(STATIC_LIB) $(LDFLAGS)

$(SINGLE_TEST_EXAMPLES): $(BUILD)/test-examples/%: examples/%.cpp $(TEST_LIB)
	@mkdir -p $(@D)
	$(CXX) $(PORTABLE_FLAGS) $(CPPFLAGS) $(TEST_CPPFLAGS) $(CXXFLAGS) $(DEPFLAGS) -o $@ $< $(TEST_LIB) $(LDFLAGS)

$(MULTI_TEST_EXAMPLES): $(BUILD)/test-examples/%: $$(wildcard examples/%/*.cpp) $$(wildcard examples/%/*.hpp) $(TEST_LIB)
	@mkdir -p $(@D)
	$(CXX) $(PORTABLE_FLAGS) $(CPPFLAGS) $(TEST_CPPFLAGS) $(CXXFLAGS) -o $@ $(filter %.cpp,$^) $(TEST_LIB) $(LDFLAGS)

$(BUILD)/tests/%: $(BUILD)/testobj/tests/%.o $(TEST_SUPPORT_OBJS) $(TEST_LIB)
	@mkdir -p $(@D)
	$(CXX) -o $@ $(filter %.o,$^) $(TEST_LIB) $(LDFLAGS)

# The suites of the load generator's parts also link its sources (all but
# main.cpp): the histogram and the protocols live in examples/loadgen/.
LOADGEN_TEST_OBJS := $(patsubst %.cpp,$(BUILD)/testobj/%.o,$(filter-out examples/loadgen/main.cpp,$(wildcard examples/loadgen/*.cpp)))
$(BUILD)/tests/loadgen_test $(BUILD)/tests/histogram_test: $(LOADGEN_TEST_OBJS)

$(BUILD)/bench/%: tests/bench/%.cpp $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CXX) $(PORTABLE_FLAGS) $(CPPFLAGS) $(CXXFLAGS) $(DEPFLAGS) -o $@ $< $(STATIC_LIB) $(LDFLAGS)

# doctest comes from the system (Debian: doctest-dev), and with STDLIB so
# does the C++ library. If one is missing, scripts/install-deps.sh installs
# it or says what to install.
$(DEPS_STAMP):
	@CXX="$(CXX)" STDLIB="$(STDLIB)" CPPFLAGS="$(CPPFLAGS)" scripts/install-deps.sh
	@mkdir -p $(@D) && touch $@

$(BUILD)/.toolchain-ok:
	@CXX="$(CXX)" STDLIB="$(STDLIB)" CPPFLAGS="$(CPPFLAGS)" scripts/install-deps.sh toolchain
	@mkdir -p $(@D) && touch $@

check-deps:
	@CXX="$(CXX)" STDLIB="$(STDLIB)" CPPFLAGS="$(CPPFLAGS)" scripts/install-deps.sh

# The suites need the examples too: some tests drive them as a user would.
test: $(TEST_BINS) $(EXAMPLES) $(TEST_EXAMPLES)
	@BACKENDS="$(BACKENDS)" KQUEUE_FLAVORS="$(KQUEUE_FLAVORS)" BUILD="$(BUILD)" \
	    REACTOR_EXAMPLES="$(BUILD)/test-examples" scripts/run-tests.sh $(TEST_BINS)

# check-portable (Linux): first, no file tests __linux__ but the one that
# decides (base/platform.hpp) and the kernel stand-in; then the whole tree
# -- library, examples, suites -- built with PORTABLE=1 (see above) in its
# own folder, and its suites run on the kqueue emulation and poll, so every
# fallback is compiled and exercised.
check-portable:
	@bad=$$(grep -rn '__linux__' src include tests examples | \
	    grep -v -e '^src/base/platform.hpp:' -e '^tests/kqueue_emu/' -e '^tests/portable/' \
	          -e '^examples/bare_poller_echo.cpp:' -e '^examples/edge_pitfall.cpp:'); \
	if [ -n "$$bad" ]; then \
	    echo "check-portable: __linux__ tested outside src/base/platform.hpp:"; \
	    echo "$$bad"; exit 1; fi
	@$(MAKE) --no-print-directory PORTABLE=1 test

demo: all
	@BUILD="$(BUILD)" scripts/c10k.sh

# ---- install: headers, both libraries, pkg-config and CMake package files ----
# DESTDIR stages the files for a package build; the installed files still
# name PREFIX (made absolute), where they will finally live. The CMake
# package computes its paths from its own location instead.
DESTDIR ?=
INSTALL_LIB := $(DESTDIR)$(PREFIX)/lib
INSTALL_INC := $(DESTDIR)$(PREFIX)/include

install: lib
	mkdir -p $(INSTALL_INC) $(INSTALL_LIB)/pkgconfig $(INSTALL_LIB)/cmake/reactor
	cp -R include/reactor $(INSTALL_INC)/
	cp $(STATIC_LIB) $(INSTALL_LIB)/libreactor.a
	rm -f $(INSTALL_LIB)/$(SHARED_REAL) $(INSTALL_LIB)/$(SONAME) $(INSTALL_LIB)/$(SHARED_NAME)
	cp $(SHARED_LIB) $(INSTALL_LIB)/$(SHARED_REAL)
	ln -s $(SHARED_REAL) $(INSTALL_LIB)/$(SONAME)
	ln -s $(SONAME) $(INSTALL_LIB)/$(SHARED_NAME)
	sed -e 's|@PREFIX@|$(abspath $(PREFIX))|g' -e 's|@VERSION@|$(VERSION)|g' \
	    scripts/package/reactor.pc.in > $(INSTALL_LIB)/pkgconfig/reactor.pc
	cp scripts/package/reactorConfig.cmake $(INSTALL_LIB)/cmake/reactor/
	sed -e 's|@VERSION@|$(VERSION)|g' scripts/package/reactorConfigVersion.cmake.in \
	    > $(INSTALL_LIB)/cmake/reactor/reactorConfigVersion.cmake

uninstall:
	rm -rf $(INSTALL_INC)/reactor $(INSTALL_LIB)/cmake/reactor
	rm -f $(INSTALL_LIB)/libreactor.* $(INSTALL_LIB)/pkgconfig/reactor.pc

# ---- fuzzing (clang's libFuzzer) ----
FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# machsim: a Mach-style microkernel simulated in one process.
#
#   make            build/libmachsim.a, build/machsim and build/machsim.pc
#   make run        run the default demo (echo) with its trace on the terminal
#   make test       build and run every test; the last line is "N passed, N failed"
#   make asan       the same tests under AddressSanitizer + UBSan, in build-asan/
#   make bench      the benchmarks; figures and ratios also go to build/bench.json
#   make grade LAB=name [TEST=words] [SOLUTION=file]   grade a lab: pingpong, boundedbuffer, kvserver,
#                   nameserver, clockdriver, sharedring, sandbox, userpager, blockcache (labs/README.md)
#   make deps       install the Debian packages the build and the tests need (runs by itself when they are missing)
#   make install    PREFIX=/usr/local DESTDIR= ; make uninstall ; make clean ; make layers
#
# V=1 shows full command lines.

.DEFAULT_GOAL := all
SHELL := /bin/bash

CXX ?= g++
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CXXFLAGS ?= -O2 -g
VERSION := 0.1.0

ifeq ($(SANITIZE),1)
  BUILD := build-asan
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

# Task code runs on fiber stacks with a guard gap below (kernel/machine/stack_pool.h):
# stack-clash probing makes a large frame touch the gap instead of stepping over it.
# machsim.pc hands the flag on to programs built against the library.
override CXXFLAGS += -std=c++20 -fstack-clash-protection -Wall -Wextra -Werror $(SANFLAGS)
override CPPFLAGS += -I. -Ikernel/include -Iuserland/include
# exit() in task code ends the task, not the process (userland/libmach/exit.cpp);
# machsim.pc hands the flags on too.
EXIT_WRAP := -Wl,--wrap=exit,--wrap=_exit,--wrap=_Exit,--wrap=quick_exit
override LDFLAGS += $(SANFLAGS) $(EXIT_WRAP)
LDLIBS := -lboost_context -lfmt

Q := $(if $(V),,@)
say = $(if $(V),,@printf '  %-6s %s\n' $(1) $(2);)

# One folder, one layer (docs/architecture.md).
MACHINE_SRC := $(wildcard kernel/machine/*.cpp) kernel/machine/usercopy_x86_64.S kernel/machine/switch_x86_64.S
PORTS_SRC := $(wildcard ports/*.cpp)
TASKS_SRC := $(wildcard tasks/*.cpp)
GATE_SRC := $(wildcard kernel/gate/*.cpp)
USERLAND_SRC := $(wildcard userland/libmach/*.cpp userland/servers/*.cpp userland/embed/*.cpp userland/programs/*.cpp)
TOOLS_SRC := tools/cli.cpp tools/stepper.cpp
LIB_SRC := $(MACHINE_SRC) $(PORTS_SRC) $(TASKS_SRC) $(GATE_SRC) $(USERLAND_SRC) $(TOOLS_SRC)
TEST_SRC := $(wildcard tests/*.cpp) $(EXTRA_TESTS)  # EXTRA_TESTS: work in progress, outside tests/
BENCH_SRC := $(wildcard bench/*.cpp)

obj = $(patsubst %,$(BUILD)/obj/%.o,$(1))
LIB := $(BUILD)/libmachsim.a
BIN := $(BUILD)/machsim
TESTS := $(BUILD)/machsim-tests
BENCH := $(BUILD)/machsim-bench
PC := $(BUILD)/machsim.pc

.PHONY: all run test check asan bench grade deps deps-check install uninstall clean layers help
all: $(LIB) $(BIN) $(PC)

# --- Debian packages --------------------------------------------------------
deps-check:
	@scripts/deps.sh check || scripts/deps.sh install

deps:
	@scripts/deps.sh install && scripts/deps.sh install-test

# --- compiling --------------------------------------------------------------
$(BUILD)/obj/%.cpp.o: %.cpp | deps-check
	@mkdir -p $(@D)
	$(call say,CXX,$<)$(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.S.o: %.S | deps-check
	@mkdir -p $(@D)
	$(call say,AS,$<)$(CXX) $(CPPFLAGS) -c $< -o $@

$(LIB): $(call obj,$(LIB_SRC))
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(BIN): $(call obj,tools/main.cpp) $(LIB)
	$(call say,LINK,$@)$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(TESTS): $(call obj,$(TEST_SRC)) $(LIB)
	$(call say,LINK,$@)$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BENCH): $(call obj,$(BENCH_SRC)) $(LIB)
	$(call say,LINK,$@)$(CXX) $(LDFLAGS) $^ $(LDLIBS) -lboost_fiber -o $@

$(PC): machsim.pc.in Makefile
	@mkdir -p $(@D)
	$(call say,GEN,$@)sed -e 's|@prefix@|$(CURDIR)|' -e 's|@libdir@|$(abspath $(BUILD))|' \
	    -e 's|@includedir@|$${prefix}|' -e 's|@version@|$(VERSION)|' -e 's|@exit_wrap@|$(EXIT_WRAP)|' \
	    -e 's|@include_flags@|-I$${includedir}/kernel/include -I$${includedir}/userland/include|' $< > $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# --- running ------------------------------------------------------------------
run: $(BIN)
	$(BIN) run echo --trace

test check: $(TESTS) $(BIN) $(PC)
	@SANFLAGS="$(SANFLAGS)" tests/run.sh $(BUILD)

asan:
	@$(MAKE) --no-print-directory SANITIZE=1 test

bench: $(BENCH)
	$(BENCH) $(BUILD)/bench.json

# make grade LAB=name [TEST=words] [SOLUTION=file]: the lab's grader, built with the student's
# file (labs/<name>/<name>.cpp unless SOLUTION names another), run (labs/README.md).
LABS := $(notdir $(patsubst %/,%,$(dir $(wildcard labs/*/grade.cpp))))
grade: $(LIB)
	@if [ -z "$(LAB)" ] || [ ! -f labs/$(LAB)/grade.cpp ]; then \
	    echo "make grade: say which lab: make grade LAB=<name>; the labs: $(LABS)" >&2; exit 2; fi
	@if [ ! -f "$(or $(SOLUTION),labs/$(LAB)/$(LAB).cpp)" ]; then \
	    echo "make grade: no file $(or $(SOLUTION),labs/$(LAB)/$(LAB).cpp)" >&2; exit 2; fi
	@mkdir -p $(BUILD)/labs
	$(call say,LINK,$(BUILD)/labs/$(LAB))$(CXX) $(CPPFLAGS) $(CXXFLAGS) labs/$(LAB)/grade.cpp \
	    $(or $(SOLUTION),labs/$(LAB)/$(LAB).cpp) $(LDFLAGS) $(LIB) $(LDLIBS) -o $(BUILD)/labs/$(LAB)
	@$(BUILD)/labs/$(LAB) $(if $(TEST),--only "$(TEST)")

# The tests also need nlohmann-json (to read the Perfetto export back); the library does not.
$(call obj,$(TEST_SRC)): | test-deps
.PHONY: test-deps
test-deps:
	@scripts/deps.sh check-test || scripts/deps.sh install-test

$(call obj,$(BENCH_SRC)): | bench-deps
.PHONY: bench-deps
bench-deps:
	@scripts/deps.sh check-bench || scripts/deps.sh install-bench

layers:  # the checker lives in the workplace's shared/ folder, beside this repository
	@if [ ! -x ../shared/tools/check-layers ]; then \
	    echo "make layers: ../shared/tools/check-layers not found (it comes with the workplace, not this repository)" >&2; exit 2; fi
	@../shared/tools/check-layers && echo "no include climbs the layer table"

# --- installing -----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/machsim
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/
	cp -R kernel/include/. userland/include/. $(DESTDIR)$(PREFIX)/include/machsim/
	sed -e 's|@prefix@|$(PREFIX)|' -e 's|@libdir@|$${prefix}/lib|' -e 's|@includedir@|$${prefix}/include/machsim|' \
	    -e 's|@version@|$(VERSION)|' -e 's|@exit_wrap@|$(EXIT_WRAP)|' -e 's|@include_flags@|-I$${includedir}|' machsim.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/machsim.pc

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/machsim
	rm -f $(DESTDIR)$(PREFIX)/lib/libmachsim.a $(DESTDIR)$(PREFIX)/lib/pkgconfig/machsim.pc $(DESTDIR)$(PREFIX)/bin/machsim

clean:
	rm -rf build build-asan

help:
	@sed -n '2,14p' Makefile | sed 's/^# \{0,1\}//'

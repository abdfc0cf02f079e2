// machsim::main: the `machsim` command. Outside programs get the same command
// over their own programs by registering them and calling machsim::main.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <iostream>
#include <string>

#include "machsim.h"

namespace machsim {

namespace {

constexpr const char* kVersion = "0.1.0";
constexpr int kUsageError = 2;

std::string program_list() {
    std::string names;
    for (const Program& p : programs()) names += (names.empty() ? "" : ", ") + p.name;
    return names;
}

int list_programs() {
    std::size_t width = 4;
    for (const Program& p : programs()) width = std::max(width, p.name.size());
    for (const Program& p : programs()) std::cout << fmt::format("{:<{}}  {}\n", p.name, width, p.summary);
    return 0;
}

// CLI11 reads "-1" into an unsigned option as 2^64-1 and turns a number too big
// for 64 bits into 2^64-1, so a typo would run silently with another seed or
// limit; its own range check prints "not in range 0.000000 to 1.79e308". Take
// plain decimal digits that fit, from `min` up, and say so when they do not.
CLI::Validator whole_number(uint64_t min) {
    return CLI::Validator(
        [min](std::string& s) -> std::string {
            uint64_t v = 0;
            const char* end = s.data() + s.size();
            auto [at, ec] = std::from_chars(s.data(), end, v);
            if (s.empty() || ec != std::errc{} || at != end || v < min)
                return fmt::format("'{}' is not a whole number from {} to {}", s, min, UINT64_MAX);
            return {};
        },
        min ? "POSITIVE" : "");
}

struct RunOptions {
    std::string program;
    uint64_t seed = 1;
    bool trace = false;
    bool syscalls = false;
    uint64_t quantum = Config{}.quantum;
    uint64_t max_ticks = 0;
};

int run_program(const RunOptions& o) {
    const Program* p = find_program(o.program);
    if (!p) {
        std::cerr << fmt::format("machsim: no program named '{}'. Programs: {} (see 'machsim list').\n", o.program,
                                 program_list());
        return kUsageError;
    }
    Config cfg;
    cfg.seed = o.seed;
    cfg.quantum = o.quantum;
    cfg.max_ticks = o.max_ticks;
    Kernel k(cfg);
    TextSink text(std::cout, o.syscalls);
    if (o.trace || o.syscalls) k.attach(text);
    p->setup(k);
    RunReport r = k.run();
    std::cout << '\n' << r.summary();
    std::cout.flush();
    return r.clean() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"machsim: a Mach-style microkernel simulated in one process.\n"
                 "Runs task programs deterministically and can print the kernel's event trace."};
    app.set_version_flag("--version", kVersion);
    app.require_subcommand(1);

    app.add_subcommand("list", "list the programs this command can run")->callback([] {});

    RunOptions ro;
    CLI::App* run = app.add_subcommand("run", "run a program and print its report (exit code 1 unless it ends clean)");
    run->add_option("program", ro.program, "the program to run (see 'machsim list')")->required();
    run->add_option("--seed", ro.seed, "seed recorded in the report (same program and seed, same trace)")
        ->check(whole_number(0));
    run->add_flag("--trace", ro.trace, "print the kernel's event trace");
    run->add_flag("--syscalls", ro.syscalls, "print the trace including every system call entry and exit");
    run->add_option("--quantum", ro.quantum, "ticks a thread runs before the timer interrupt")
        ->check(whole_number(1));
    run->add_option("--max-ticks", ro.max_ticks, "stop the run at this virtual time (0 = no limit)")
        ->check(whole_number(0));

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // CLI11 answers a missing command, a misspelt one and an option before one alike with
        // "A subcommand is required": say which it was.
        if (app.get_subcommands().empty()) {
            std::string what = argc < 2            ? std::string("a command is needed")
                               : argv[1][0] == '-' ? fmt::format("no option named '{}' (options follow the command)", argv[1])
                                                   : fmt::format("no command named '{}'", argv[1]);
            std::cerr << fmt::format("machsim: {}. Commands: list, run (see 'machsim --help').\n", what);
            return kUsageError;
        }
        (void)app.exit(e);
        return kUsageError;
    }
    if (app.got_subcommand("list")) return list_programs();
    return run_program(ro);
}

}  // namespace machsim

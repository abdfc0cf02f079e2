// machsim::main: the `machsim` command. Outside programs get the same command
// over their own programs by registering them and calling machsim::main.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "machsim.h"
#include "tools/stepper.h"

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
    std::string perfetto;  // file for the Perfetto JSON ("-" = standard output)
    std::string mermaid;   // file for the Mermaid diagram
    std::string jsonl;     // file for the JSON lines
    uint64_t from = 0;     // Mermaid window (0 = open)
    uint64_t to = 0;
    std::vector<std::string> tasks;  // Mermaid task filter
};

// Where one exported file goes: a file opened before the run (so that a path that cannot be
// written stops the command before anything runs), or a buffer printed after the report ("-").
class Export {
public:
    // Returns an error message, or "" once open.
    std::string open(const std::string& path) {
        path_ = path;
        if (path == "-") return {};
        file_.open(path, std::ios::out | std::ios::trunc | std::ios::binary);
        if (!file_) return fmt::format("cannot write '{}': {}", path, std::strerror(errno));
        return {};
    }
    std::ostream& stream() { return path_ == "-" ? static_cast<std::ostream&>(buffer_) : file_; }
    // After the sink's finish(): prints a "-" export, closes a file. Returns an error message or "".
    std::string close() {
        if (path_ == "-") {
            std::cout << '\n' << buffer_.str();
            std::cout.flush();
            return {};
        }
        file_.close();
        return file_ ? std::string() : fmt::format("writing '{}' failed", path_);
    }

private:
    std::string path_;
    std::ofstream file_;
    std::ostringstream buffer_;
};

std::string replay_command(const RunOptions& o) {
    std::string cmd = fmt::format("machsim run {} --seed {}", o.program, o.seed);
    if (o.quantum != Config{}.quantum) cmd += fmt::format(" --quantum {}", o.quantum);
    if (o.max_ticks) cmd += fmt::format(" --max-ticks {}", o.max_ticks);
    return cmd;
}

const char* outcome(const RunReport& r) {
    return r.clean() ? "clean" : r.deadlock ? "deadlock" : r.time_limit ? "time limit" : "not clean";
}

// The export options' own checks, before anything runs. Returns an error message or "".
std::string check_exports(const RunOptions& o) {
    if (o.to && o.from > o.to) return fmt::format("--from {} is after --to {}: nothing to draw", o.from, o.to);
    const std::pair<const char*, const std::string*> exports[] = {
        {"--perfetto", &o.perfetto}, {"--mermaid", &o.mermaid}, {"--jsonl", &o.jsonl}};
    for (std::size_t i = 0; i < std::size(exports); ++i)
        for (std::size_t j = i + 1; j < std::size(exports); ++j) {
            auto [a, path] = exports[i];
            auto [b, other] = exports[j];
            if (path->empty() || *path != *other) continue;
            if (*path == "-")
                return fmt::format("{} - and {} - would both write to standard output; give one of them a file", a, b);
            return fmt::format("{} and {} both name '{}'; give each its own file", a, b, *path);
        }
    return {};
}

// The program to run, or null after saying there is none.
const Program* program_named(const std::string& name) {
    const Program* p = find_program(name);
    if (!p)
        std::cerr << fmt::format("machsim: no program named '{}'. Programs: {} (see 'machsim list').\n", name,
                                 program_list());
    return p;
}

Config config_of(const RunOptions& o) {
    Config cfg;
    cfg.seed = o.seed;
    cfg.quantum = o.quantum;
    cfg.max_ticks = o.max_ticks;
    return cfg;
}

int run_program(const RunOptions& o) {
    const Program* p = program_named(o.program);
    if (!p) return kUsageError;
    Config cfg = config_of(o);
    if (std::string err = check_exports(o); !err.empty()) {
        std::cerr << "machsim: " << err << ".\n";
        return kUsageError;
    }
    Export perfetto_file, mermaid_file, jsonl_file;
    std::unique_ptr<PerfettoSink> perfetto;
    std::unique_ptr<MermaidSink> mermaid;
    std::unique_ptr<JsonLinesSink> jsonl;
    for (auto [path, file] : {std::pair{&o.perfetto, &perfetto_file}, std::pair{&o.mermaid, &mermaid_file},
                              std::pair{&o.jsonl, &jsonl_file}}) {
        if (path->empty()) continue;
        if (std::string err = file->open(*path); !err.empty()) {
            std::cerr << "machsim: " << err << ".\n";
            return kUsageError;
        }
    }
    Kernel k(cfg);
    TextSink text(std::cout, o.syscalls);
    if (o.trace || o.syscalls) k.attach(text);
    if (!o.perfetto.empty()) {
        perfetto = std::make_unique<PerfettoSink>(perfetto_file.stream());
        k.attach(*perfetto);
    }
    if (!o.mermaid.empty()) {
        MermaidSink::Options mo;
        mo.from = o.from;
        mo.to = o.to;
        mo.tasks = o.tasks;
        mo.fence = o.mermaid.size() > 3 && o.mermaid.compare(o.mermaid.size() - 3, 3, ".md") == 0;
        mermaid = std::make_unique<MermaidSink>(mermaid_file.stream(), mo);
        k.attach(*mermaid);
    }
    if (!o.jsonl.empty()) {  // written line by line as the run goes (a "-" buffer: after the report)
        jsonl = std::make_unique<JsonLinesSink>(jsonl_file.stream());
        k.attach(*jsonl);
    }
    p->setup(k);
    RunReport r = k.run();
    std::cout << '\n' << r.summary();
    std::cout.flush();

    int status = r.clean() ? 0 : 1;
    auto fail = [&](const std::string& err) {
        std::cerr << "machsim: " << err << ".\n";
        status = kUsageError;
    };
    if (perfetto) {
        perfetto->note("program", o.program);
        perfetto->note("seed", o.seed);
        perfetto->note("version", kVersion);
        perfetto->note("policy", "round-robin");
        perfetto->note("quantum", o.quantum);
        perfetto->note("replay", replay_command(o));
        perfetto->note("outcome", outcome(r));
        perfetto->note("ticks", r.ticks);
        perfetto->note("events", r.events);
        perfetto->finish();
        if (std::string err = perfetto_file.close(); !err.empty()) fail(err);
    }
    if (mermaid) {
        mermaid->finish();
        if (std::string err = mermaid_file.close(); !err.empty()) fail(err);
        for (const std::string& name : o.tasks)
            if (!r.task(name)) fail(fmt::format("--task '{}' names no task of this run", name));
    }
    if (jsonl)
        if (std::string err = jsonl_file.close(); !err.empty()) fail(err);
    return status;
}

// `machsim debug`: the run, stopping at events to take commands (tools/stepper.h).
int debug_program(const RunOptions& o) {
    const Program* p = program_named(o.program);
    if (!p) return kUsageError;
    Kernel k(config_of(o));
    Stepper stepper(std::cin, std::cout, o.syscalls, !isatty(STDIN_FILENO));
    std::cout << "machsim debug: stops after each event; Enter shows the next, c runs on, h lists the commands\n";
    k.attach(stepper);
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
    run->add_option("--perfetto", ro.perfetto,
                    "write the trace as Chrome/Perfetto JSON to FILE, to open at ui.perfetto.dev "
                    "('-': standard output, after the report)")
        ->type_name("FILE");
    CLI::Option* mermaid = run->add_option("--mermaid", ro.mermaid,
                                           "write a Mermaid sequence diagram to FILE (a FILE ending in .md gets a "
                                           "```mermaid fence; '-': standard output, after the report)")
                               ->type_name("FILE");
    run->add_option("--from", ro.from, "the diagram starts at this event (seq)")
        ->type_name("SEQ")
        ->check(whole_number(1))
        ->needs(mermaid);
    run->add_option("--to", ro.to, "the diagram ends at this event (seq)")
        ->type_name("SEQ")
        ->check(whole_number(1))
        ->needs(mermaid);
    run->add_option("--task", ro.tasks, "draw only what involves the task of this name (repeat for more)")
        ->type_name("NAME")
        ->needs(mermaid);
    run->add_option("--jsonl", ro.jsonl,
                    "write the trace as JSON lines, one object per event, to FILE "
                    "('-': standard output, after the report)")
        ->type_name("FILE");

    RunOptions dbg;
    CLI::App* debug = app.add_subcommand(
        "debug", "run a program one event at a time: step, continue to breakpoints, look at its tasks (ps)");
    debug->add_option("program", dbg.program, "the program to run (see 'machsim list')")->required();
    debug->add_option("--seed", dbg.seed, "seed recorded in the report (same program and seed, same trace)")
        ->check(whole_number(0));
    debug->add_flag("--syscalls", dbg.syscalls, "show and stop at every system call entry and exit too");
    debug->add_option("--quantum", dbg.quantum, "ticks a thread runs before the timer interrupt")
        ->check(whole_number(1));
    debug->add_option("--max-ticks", dbg.max_ticks, "stop the run at this virtual time (0 = no limit)")
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
            std::cerr << fmt::format("machsim: {}. Commands: list, run, debug (see 'machsim --help').\n", what);
            return kUsageError;
        }
        (void)app.exit(e);
        return kUsageError;
    }
    if (app.got_subcommand("list")) return list_programs();
    if (app.got_subcommand("debug")) return debug_program(dbg);
    return run_program(ro);
}

}  // namespace machsim

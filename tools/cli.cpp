// machsim::main: the `machsim` command. Outside programs get the same command
// over their own programs by registering them and calling machsim::main.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
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

// --policy round-robin | random | pct[:DEPTH[:STEPS]]. Returns an error message or "".
std::string parse_policy(const std::string& spec, Policy& policy, uint32_t& depth, uint64_t& steps, bool& steps_given) {
    auto number = [](std::string_view text, uint64_t max, uint64_t& out) {
        auto [at, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        return !text.empty() && ec == std::errc{} && at == text.data() + text.size() && out >= 1 && out <= max;
    };
    if (spec == "round-robin" || spec == "random") {
        policy = spec == "random" ? Policy::Random : Policy::RoundRobin;
        return {};
    }
    std::string_view rest(spec);
    if (rest.substr(0, 3) != "pct" || (rest.size() > 3 && rest[3] != ':'))
        return fmt::format("'{}' is not a policy: round-robin, random, pct, pct:DEPTH or pct:DEPTH:STEPS", spec);
    policy = Policy::Pct;
    rest.remove_prefix(std::min<std::size_t>(rest.size(), 4));
    if (rest.empty()) return {};
    std::string_view d = rest.substr(0, rest.find(':'));
    uint64_t v = 0;
    if (!number(d, 64, v)) return fmt::format("pct's DEPTH in '{}' must be a whole number from 1 to 64", spec);
    depth = static_cast<uint32_t>(v);
    if (d.size() == rest.size()) return {};
    if (!number(rest.substr(d.size() + 1), UINT64_MAX, steps))
        return fmt::format("pct's STEPS in '{}' must be a whole number from 1 up", spec);
    steps_given = true;
    return {};
}

std::string policy_spec(Policy policy, uint32_t depth, uint64_t steps) {
    return policy == Policy::Pct ? fmt::format("pct:{}:{}", depth, steps) : policy_name(policy);
}

struct RunOptions {
    std::string program;
    uint64_t seed = 1;
    Policy policy = Policy::RoundRobin;
    uint32_t pct_depth = Config{}.pct_depth;
    uint64_t pct_steps = Config{}.pct_steps;
    bool pct_steps_given = false;  // explore measures it when not
    bool trace = false;
    bool syscalls = false;
    uint64_t quantum = Config{}.quantum;
    uint64_t max_ticks = 0;
    std::string perfetto;  // file for the Perfetto JSON ("-" = standard output)
    std::string mermaid;   // file for the Mermaid diagram
    std::string jsonl;     // file for the JSON lines
    std::string dot;       // file for the Graphviz graph
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
    if (o.policy != Policy::RoundRobin) cmd += " --policy " + policy_spec(o.policy, o.pct_depth, o.pct_steps);
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
        {"--perfetto", &o.perfetto}, {"--mermaid", &o.mermaid}, {"--jsonl", &o.jsonl}, {"--dot", &o.dot}};
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
    cfg.policy = o.policy;
    cfg.pct_depth = o.pct_depth;
    cfg.pct_steps = o.pct_steps;
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
    Export perfetto_file, mermaid_file, jsonl_file, dot_file;
    std::unique_ptr<PerfettoSink> perfetto;
    std::unique_ptr<MermaidSink> mermaid;
    std::unique_ptr<JsonLinesSink> jsonl;
    std::unique_ptr<DotSink> dot;
    for (auto [path, file] : {std::pair{&o.perfetto, &perfetto_file}, std::pair{&o.mermaid, &mermaid_file},
                              std::pair{&o.jsonl, &jsonl_file}, std::pair{&o.dot, &dot_file}}) {
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
    if (!o.dot.empty()) {
        dot = std::make_unique<DotSink>(dot_file.stream());
        k.attach(*dot);
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
        perfetto->note("policy", policy_spec(o.policy, o.pct_depth, o.pct_steps));
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
    if (dot) {
        dot->finish(r);
        if (std::string err = dot_file.close(); !err.empty()) fail(err);
    }
    return status;
}

// Standard output and error go to /dev/null while it lives: explore's runs print nothing.
class Silence {
public:
    Silence() {
        std::cout.flush();
        std::cerr.flush();
        std::fflush(nullptr);
        null_ = ::open("/dev/null", O_WRONLY);
        if (null_ < 0) return;
        out_ = ::dup(STDOUT_FILENO);
        err_ = ::dup(STDERR_FILENO);
        ::dup2(null_, STDOUT_FILENO);
        ::dup2(null_, STDERR_FILENO);
    }
    ~Silence() {
        std::cout.flush();
        std::cerr.flush();
        std::fflush(nullptr);
        if (out_ >= 0) ::dup2(out_, STDOUT_FILENO), ::close(out_);
        if (err_ >= 0) ::dup2(err_, STDERR_FILENO), ::close(err_);
        if (null_ >= 0) ::close(null_);
    }
    Silence(const Silence&) = delete;
    Silence& operator=(const Silence&) = delete;

private:
    int null_ = -1, out_ = -1, err_ = -1;
};

// `machsim debug`: the run, stopping at events to take commands (tools/stepper.h).
int debug_program(const RunOptions& o) {
    const Program* p = program_named(o.program);
    if (!p) return kUsageError;
    std::cout << "machsim debug: stops after each event; Enter shows the next, c runs on, h lists the commands\n";
    std::unique_ptr<Silence> quiet;  // what the tasks print while a `back` replays the run
    RunReport r = debug_run(p->setup, config_of(o), std::cin, std::cout, o.syscalls, !isatty(STDIN_FILENO),
                            [&quiet](bool hide) {
                                if (hide && !quiet) quiet = std::make_unique<Silence>();
                                if (!hide) quiet.reset();
                            });
    std::cout << '\n' << r.summary();
    std::cout.flush();
    return r.clean() ? 0 : 1;
}


// What went wrong in a run explore counts as failed, or "" when nothing did: a run
// that is not clean, or a task that exited with a code other than 0.
std::string failure_of(const RunReport& r) {
    if (r.deadlock) return "deadlock";
    if (r.time_limit) return "time limit reached";
    for (const TaskReport& t : r.tasks) {
        if (t.daemon) continue;
        if (t.end != TaskEnd::Exited)
            return fmt::format("task {} {}{}", t.name, task_end_name(t.end), t.detail.empty() ? "" : ": " + t.detail);
        if (t.exit_code != 0) return fmt::format("task {} exited with code {}", t.name, t.exit_code);
    }
    if (!r.leaks.empty()) return "leak: " + r.leaks.front();
    if (!r.accounting.empty()) return "accounting: " + r.accounting.front();
    return {};
}

RunReport run_silently(const Program& p, const Config& cfg) {
    Silence quiet;
    Kernel k(cfg);
    p.setup(k);
    return k.run();
}

// `machsim explore`: the program under `runs` seeds of a seeded policy; every run
// that fails is listed with the command that replays it.
int explore_program(RunOptions o, uint64_t runs) {
    const Program* p = program_named(o.program);
    if (!p) return kUsageError;
    if (o.policy == Policy::RoundRobin) {
        std::cerr << "machsim: explore needs a seeded policy: --policy random or pct (round robin ignores the seed).\n";
        return kUsageError;
    }
    if (o.seed > UINT64_MAX - (runs - 1)) {
        std::cerr << fmt::format("machsim: seeds {} and {} more run past the largest seed.\n", o.seed, runs - 1);
        return kUsageError;
    }
    // The exports asked for get the first failing run. Each file is opened now, so that one that
    // cannot be written stops the command before the runs, as for run.
    std::vector<std::string> files;
    for (const std::string* f : {&o.perfetto, &o.mermaid, &o.jsonl, &o.dot})
        if (!f->empty()) files.push_back(*f);
    if (std::find(files.begin(), files.end(), "-") != files.end()) {
        std::cerr << "machsim: explore writes the failing run's exports to files; give a file name, not '-'.\n";
        return kUsageError;
    }
    if (std::string err = check_exports(o); !err.empty()) {
        std::cerr << "machsim: " << err << ".\n";
        return kUsageError;
    }
    for (const std::string& f : files) {
        Export test;
        if (std::string err = test.open(f); !err.empty()) {
            std::cerr << "machsim: " << err << ".\n";
            return kUsageError;
        }
    }
    if (o.policy == Policy::Pct && !o.pct_steps_given) {  // PCT's k: the length of the run, in kernel entries
        RunOptions rr = o;
        rr.policy = Policy::RoundRobin;
        o.pct_steps = std::max<uint64_t>(run_silently(*p, config_of(rr)).kernel_entries, 1);
    }
    const uint64_t first = o.seed;
    std::cout << fmt::format("machsim explore {}: {} runs under {}, seeds {} to {}\n", o.program, runs,
                             policy_spec(o.policy, o.pct_depth, o.pct_steps), first, first + runs - 1);
    std::cout.flush();
    const bool progress = isatty(STDERR_FILENO);
    constexpr uint64_t kListed = 10;  // failing seeds shown in full; the rest are counted
    std::vector<uint64_t> failed;
    for (uint64_t i = 0; i < runs; ++i) {
        o.seed = first + i;
        if (progress) std::cerr << fmt::format("\r  run {} of {}, {} failed", i + 1, runs, failed.size()) << std::flush;
        std::string what = failure_of(run_silently(*p, config_of(o)));
        if (what.empty()) continue;
        failed.push_back(o.seed);
        if (failed.size() > kListed) continue;
        if (progress) std::cerr << "\r\033[K" << std::flush;
        std::cout << fmt::format("seed {}: {}\n  replay: {}\n", o.seed, what, replay_command(o));
        std::cout.flush();
    }
    if (progress) std::cerr << "\r\033[K" << std::flush;
    if (failed.size() > kListed) std::cout << fmt::format("... and {} more failed runs\n", failed.size() - kListed);
    std::cout << fmt::format("{} runs: {} clean, {} failed\n", runs, runs - failed.size(), failed.size());
    if (files.empty()) return failed.empty() ? 0 : 1;
    std::string list;
    for (const std::string& f : files) list += (list.empty() ? "" : ", ") + f;
    if (failed.empty()) {  // nothing to show: the files opened above go again
        for (const std::string& f : files) std::remove(f.c_str());
        std::cout << fmt::format("no run failed: nothing written to {}\n", list);
        return 0;
    }
    o.seed = failed.front();
    int status = 0;
    {
        Silence quiet;
        status = run_program(o);
    }
    if (status == kUsageError) {
        std::cerr << fmt::format("machsim: writing the run of seed {} to {} failed.\n", o.seed, list);
        return kUsageError;
    }
    std::cout << fmt::format("the run of seed {} is in {}\n", o.seed, list);
    return 1;
}


// --policy on a command, parsed into o.
void add_policy_option(CLI::App* cmd, RunOptions& o, const std::string& defaults) {
    cmd->add_option_function<std::string>(
           "--policy",
           [&o](const std::string& spec) {
               if (std::string err = parse_policy(spec, o.policy, o.pct_depth, o.pct_steps, o.pct_steps_given);
                   !err.empty())
                   throw CLI::ValidationError("--policy", err);
           },
           "which ready thread runs next: round-robin, random (a coin at every kernel entry) or "
           "pct[:DEPTH[:STEPS]] (random priorities, lowered at DEPTH-1 of the first STEPS kernel entries); " +
               defaults)
        ->type_name("POLICY");
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
    run->add_option("--seed", ro.seed, "seed for the random and pct policies (same program, policy and seed: same trace)")
        ->check(whole_number(0));
    const std::string run_defaults =
        fmt::format("default round-robin; pct's DEPTH is {} and STEPS {} unless given", Config{}.pct_depth,
                    Config{}.pct_steps);
    add_policy_option(run, ro, run_defaults);
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
    run->add_option("--dot", ro.dot,
                    "write a Graphviz graph of who sent messages to whom to FILE, with the wait-for graph in red "
                    "if the run deadlocks ('-': standard output, after the report)")
        ->type_name("FILE");

    RunOptions dbg;
    CLI::App* debug = app.add_subcommand(
        "debug", "run a program one event at a time: step, continue to breakpoints, look at its tasks (ps)");
    debug->add_option("program", dbg.program, "the program to run (see 'machsim list')")->required();
    debug->add_option("--seed", dbg.seed, "seed for the random and pct policies (same program, policy and seed: same trace)")
        ->check(whole_number(0));
    add_policy_option(debug, dbg, run_defaults);
    debug->add_flag("--syscalls", dbg.syscalls, "show and stop at every system call entry and exit too");
    debug->add_option("--quantum", dbg.quantum, "ticks a thread runs before the timer interrupt")
        ->check(whole_number(1));
    debug->add_option("--max-ticks", dbg.max_ticks, "stop the run at this virtual time (0 = no limit)")
        ->check(whole_number(0));

    RunOptions ex;
    ex.policy = Policy::Pct;
    uint64_t runs = 100;
    CLI::App* explore = app.add_subcommand(
        "explore", "run a program under many seeds of a seeded policy and list the runs that fail, with the "
                   "command that replays each (exit code 1 if any fails)");
    explore->add_option("program", ex.program, "the program to run (see 'machsim list')")->required();
    explore->add_option("--runs", runs, "how many seeds to try")->check(whole_number(1));
    explore->add_option("--seed", ex.seed, "the first seed; the others follow it")->check(whole_number(0));
    add_policy_option(explore, ex,
                      fmt::format("default pct; pct's DEPTH is {} and STEPS the length of a round-robin run, in "
                                  "kernel entries, unless given",
                                  Config{}.pct_depth));
    explore->add_option("--quantum", ex.quantum, "ticks a thread runs before the timer interrupt")
        ->check(whole_number(1));
    explore->add_option("--max-ticks", ex.max_ticks, "stop each run at this virtual time (0 = no limit)")
        ->check(whole_number(0));
    explore->add_option("--perfetto", ex.perfetto, "write the first failing run as Perfetto JSON to FILE")
        ->type_name("FILE");
    explore->add_option("--mermaid", ex.mermaid, "write the first failing run as a Mermaid diagram to FILE")
        ->type_name("FILE");
    explore->add_option("--jsonl", ex.jsonl, "write the first failing run as JSON lines to FILE")->type_name("FILE");
    explore->add_option("--dot", ex.dot, "write the first failing run as a Graphviz graph to FILE")->type_name("FILE");

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
            std::cerr << fmt::format("machsim: {}. Commands: list, run, debug, explore (see 'machsim --help').\n", what);
            return kUsageError;
        }
        (void)app.exit(e);
        return kUsageError;
    }
    if (app.got_subcommand("list")) return list_programs();
    if (app.got_subcommand("debug")) return debug_program(dbg);
    if (app.got_subcommand("explore")) return explore_program(ex, runs);
    return run_program(ro);
}

}  // namespace machsim

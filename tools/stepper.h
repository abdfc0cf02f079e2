// The stepper behind `machsim debug`: it prints the trace as the text sink does
// and stops after events to take commands: next, back, continue, breakpoints, ps.
// It runs inside the kernel's run, so while it waits for a command the whole
// simulation waits with it, and every stop is at an event boundary. A run cannot
// go backwards: `back` lets the run end unseen and runs the program again from the
// start, which gives the same events (docs/trace.md, section 2), unseen up to the
// event asked for.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <set>
#include <memory>
#include <streambuf>
#include <string>
#include <vector>

#include "machsim.h"

namespace machsim {

class Stepper : public TraceSink {
public:
    // Reads commands from `in` and writes the trace, prompts and answers to `out`.
    // syscalls: the trace includes (and may stop at) system call entries and exits.
    // echo: each command is written after its prompt (input from a file or a pipe,
    // which the terminal does not show).
    Stepper(std::istream& in, std::ostream& out, bool syscalls, bool echo = false);
    ~Stepper() override;
    void on_event(const Event& e) override;

    // After a run: the event a `back` asked to go back to (0: none). Before the next run,
    // replay() readies the stepper to show nothing up to that event, then stop there.
    uint64_t restart_at() const { return restart_at_; }
    void replay();
    // Called with true when what the tasks print should not show (after `back`), false when it should.
    std::function<void(bool)> hide_output;

private:
    struct Break {
        enum class On { Seq, Task, Kind, Port, Msg } on;
        uint64_t number = 0;  // Seq, Port, Msg
        std::string word;     // Task (a name), Kind (the text trace's word)
        std::string describe() const;
        bool matches(const Event& e, const std::string& task_name, const std::string& space_name) const;
    };
    enum class Mode { Step, Continue, Quiet, Replay };

    bool shown(const Event& e) const;  // the text trace prints it
    void follow(const Event& e);       // what ps shows
    void stop();                       // reads commands until one runs on
    bool command(const std::string& line);  // true: the run goes on
    bool add_break(const std::vector<std::string>& words);
    bool back(const std::vector<std::string>& words);
    void ps() const;
    std::string name_of(uint32_t task) const;

    std::istream& in_;
    std::ostream& out_;
    bool syscalls_;
    bool echo_;
    class Gate;                    // the text trace's way to out_, closed while replaying
    std::unique_ptr<Gate> gate_;
    std::unique_ptr<std::ostream> gated_;
    TextSink text_;
    Mode mode_ = Mode::Step;
    uint64_t steps_left_ = 1;  // in Step mode: events to show before the next stop
    bool input_ended_ = false;
    std::vector<Break> breaks_;
    std::vector<uint64_t> shown_;  // seqs of the events shown (or passed while replaying) in this run
    uint64_t restart_at_ = 0;      // asked for by back; in Replay mode, the event to stop after
    std::map<uint32_t, std::string> task_names_;
    std::map<uint32_t, std::string> task_ends_;
    std::map<uint32_t, bool> daemons_;
    std::map<uint32_t, uint32_t> thread_task_;
    std::map<uint32_t, std::string> thread_state_;
    std::set<uint32_t> suspended_;  // threads suspended (thread_suspend, task_suspend, a stop signal)
};

// `machsim debug`: runs the program that `setup` spawns under a stepper reading `in`, running
// it again from the start each time the user goes back. `hide_output(true)` is called when
// what the tasks print should not show (the rest of a run left by `back`, a replay), and
// `hide_output(false)` when it should again. Returns the report of the last run.
RunReport debug_run(const std::function<void(Kernel&)>& setup, const Config& cfg, std::istream& in, std::ostream& out,
                    bool syscalls, bool echo, const std::function<void(bool)>& hide_output = {});

}  // namespace machsim

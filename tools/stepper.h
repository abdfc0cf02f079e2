// The stepper behind `machsim debug`: it prints the trace as the text sink does
// and stops after events to take commands: next, continue, breakpoints, ps. It
// runs inside the kernel's run, so while it waits for a command the whole
// simulation waits with it, and every stop is at an event boundary.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
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
    void on_event(const Event& e) override;

private:
    struct Break {
        enum class On { Seq, Task, Kind, Port, Msg } on;
        uint64_t number = 0;  // Seq, Port, Msg
        std::string word;     // Task (a name), Kind (the text trace's word)
        std::string describe() const;
        bool matches(const Event& e, const std::string& task_name, const std::string& space_name) const;
    };
    enum class Mode { Step, Continue, Quiet };

    bool shown(const Event& e) const;  // the text trace prints it
    void follow(const Event& e);       // what ps shows
    void stop();                       // reads commands until one runs on
    bool command(const std::string& line);  // true: the run goes on
    bool add_break(const std::vector<std::string>& words);
    void ps() const;
    std::string name_of(uint32_t task) const;

    std::istream& in_;
    std::ostream& out_;
    bool syscalls_;
    bool echo_;
    TextSink text_;
    Mode mode_ = Mode::Step;
    uint64_t steps_left_ = 1;  // in Step mode: events to show before the next stop
    bool input_ended_ = false;
    std::vector<Break> breaks_;
    std::map<uint32_t, std::string> task_names_;
    std::map<uint32_t, std::string> task_ends_;
    std::map<uint32_t, bool> daemons_;
    std::map<uint32_t, uint32_t> thread_task_;
    std::map<uint32_t, std::string> thread_state_;
};

}  // namespace machsim

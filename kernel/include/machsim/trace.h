// The trace contract: every kernel action is one Event on one bus.
// Sinks subscribe through machsim::Kernel::attach. With no sink attached the
// kernel pays one predictable branch per event site and builds nothing.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace machsim {

// Field use per kind is listed in docs/trace.md; unused fields are zero.
enum class EventKind : uint8_t {
    TaskCreate,    // task, text = task name, extra = 1 for a daemon
    TaskExit,      // task, code = exit code, text = how it ended
    ThreadCreate,  // task, thread
    ThreadExit,    // task, thread
    Switch,        // task/thread = the thread switched to, extra = thread switched from (0 = idle)
    SyscallEnter,  // text = call name
    SyscallLeave,  // text = call name, code = return code
    Fail,          // code = return code, text = why (emitted just before SyscallLeave)
    PortCreate,    // port, space/name = where its receive right lives
    PortDestroy,   // port, before = queued messages destroyed with it
    PortSetCreate, // port (the set's object number), space/name
    Send,          // msg, port = destination, space/name = sender's name for it, code = msgh_id, before = size,
                   // extra = 1 for a message the kernel composed (a notification, a kernel reply)
    Enqueue,       // msg, port, after = queue length afterwards
    Handoff,       // msg, port, extra = receiving thread (message given straight to a waiting receiver)
    Dequeue,       // msg, port, after = queue length afterwards, extra = seqno
    Receive,       // msg, port, space/name = receiver's name for the port, code = msgh_id, before = size
    MsgDestroy,    // msg, port = its destination, text = why
    Block,         // port (0 = none), space/name = the name waited on, text = "receive" / "send" / "semaphore" / "sleep"
    Wake,          // extra = the woken thread, code = its wait result (actor = the waker; 0 = kernel)
    RightCopyIn,   // space, name, port, before/after = urefs, extra = disposition
    RightCopyOut,  // space, name, port, before/after = urefs, extra = received right type
    RightChange,   // space, name, port, before/after = urefs, text = what changed it
    DeadName,      // space, name, port: a right's port died; the name is now a dead name
    Timer,         // extra = the thread whose timeout fired, text = what timed out
    Suspend,       // extra = the thread that may no longer run (thread_suspend, task_suspend, a stop signal)
    Resume,        // extra = the thread that may run again
    Deadlock,      // task/thread = a thread blocked forever, port/space/name = what it waits on,
                   // extra = the task holding that port's receive right (for a semaphore: the task that
                   // made it), text = "receive" / "send" / "semaphore" / "sleep" / "suspended"
    Fault,         // the acting thread faulted: code = exception type (EXC_*), extra = its code,
                   // before/after = the address's low/high 32 bits, text = what happened
    ExceptionRaise,  // port = the exception port, code = exception type, extra = 1 thread's port, 2 task's
    ExceptionReply,  // port = the exception port, code = the handler's answer (KERN_SUCCESS resumes)
    SignalPost,    // space = the task signalled, code = the signal (actor = who posted it: for a fault, the faulting thread)
    SignalAction,  // space = the task it applies to, code = the signal, text = what was done: "handler",
                   // "ignore", "terminate", "stop", "continue"
    IrqRaise,      // extra = the line, before = raises it stands for (a device that fell behind), text = outcome
    IrqDeliver,    // extra = the line, port = the delivery port, msg = the device_intr_notify message
    IrqAck,        // extra = the line, port = the delivery port, after = 1 if a remembered interrupt follows
    IrqRegister,   // extra = the line, port = the delivery port, space/name = the driver's name for it
    IrqDrop,       // extra = the line, port = the delivery port, text = why the registration was dropped
};

const char* event_kind_name(EventKind kind);

struct Event {
    uint64_t seq = 0;        // 1, 2, 3, ... per kernel
    uint64_t tick = 0;       // virtual time
    EventKind kind = EventKind::TaskCreate;
    uint32_t task = 0;       // acting task (0 = the kernel itself); filled in by the bus
    uint32_t thread = 0;     // acting thread, numbered per kernel; filled in by the bus
    uint32_t port = 0;       // port object number (P1, P2, ...)
    uint32_t msg = 0;        // message number
    uint32_t space = 0;      // task whose name space `name` is in
    uint32_t name = 0;       // a port name in `space`
    int32_t code = 0;        // return code, msgh_id or exit code
    uint32_t before = 0;     // urefs, sizes, counts (see kind)
    uint32_t after = 0;
    uint32_t extra = 0;
    const char* text = nullptr;  // valid only while the event is delivered
};

class TraceSink {
public:
    virtual ~TraceSink() = default;
    virtual void on_event(const Event& e) = 0;
};

// Prints one aligned, human-readable line per event.
class TextSink : public TraceSink {
public:
    explicit TextSink(std::ostream& out, bool syscalls = false);
    void on_event(const Event& e) override;

private:
    std::ostream& out_;
    bool syscalls_;  // also print syscall enter/leave lines
    bool header_due_ = true;
    std::size_t who_width_ = 18;  // grows to fit long task names, never shrinks
    std::map<uint32_t, std::string> task_names_;
    std::string who(uint32_t task, uint32_t thread) const;
    std::string name_of(uint32_t task) const;
};

// Keeps every event (with its text copied) for graders and tests.
class TraceLog : public TraceSink {
public:
    struct Entry {
        Event event;
        std::string text;
    };
    void on_event(const Event& e) override;
    const std::vector<Entry>& entries() const { return entries_; }
    std::vector<Entry> of_kind(EventKind kind) const;
    void clear() { entries_.clear(); }

private:
    std::vector<Entry> entries_;
};

// One JSON object per event, one line each (docs/trace.md, section 10), for scripts and graders:
// seq, tick, kind (the text sink's word), task, task_name, thread, then the kind's own fields
// under plain names, then text. Each line is written, and `out` flushed, as its event arrives,
// so the output is whole lines however the run ends. The introductions (seq 0) give the names
// of tasks that existed before attach; they are not written.
class JsonLinesSink : public TraceSink {
public:
    explicit JsonLinesSink(std::ostream& out) : out_(out) {}
    void on_event(const Event& e) override;

private:
    std::ostream& out_;
    std::map<uint32_t, std::string> task_names_;
};

// Chrome Trace Event JSON, as ui.perfetto.dev opens it (docs/trace.md, section 8): a process per
// task, a track per thread, system calls and blocked intervals as slices, a flow arrow per
// message delivered, a queue-length counter per port. Records go to `out` as events arrive;
// finish() closes what is still open and ends the document, so the file is valid JSON only
// after finish(). Call it once, after the run, however the run ended.
class PerfettoSink : public TraceSink {
public:
    explicit PerfettoSink(std::ostream& out);
    ~PerfettoSink() override;
    // An entry of the document's otherData (seed, version, ...): a string, or a number.
    void note(const std::string& key, const std::string& value);
    void note(const std::string& key, uint64_t value);
    void on_event(const Event& e) override;
    void finish();

    struct State;  // in kernel/machine/perfetto_sink.cpp

private:
    std::unique_ptr<State> s_;
};

struct RunReport;

// A Graphviz dot digraph (docs/trace.md, section 11): a box per task, an arrow per sender and
// receiver with the number of messages and their ids; if the run deadlocked, the wait-for graph
// in red: an arrow from each blocked thread's task to each task that could still wake it (the
// holders of send rights to the port it receives on, the receiver of a full queue, a semaphore's
// maker). Written by finish(), given the run's report.
class DotSink : public TraceSink {
public:
    explicit DotSink(std::ostream& out);
    ~DotSink() override;
    void on_event(const Event& e) override;
    void finish(const RunReport& report);

    struct State;  // in userland/embed/dot_sink.cpp

private:
    std::unique_ptr<State> s_;
};

// A Mermaid sequenceDiagram (docs/trace.md, section 9): a participant per task, an arrow per
// message when it is received or destroyed, notes for exits, faults, signals, failed calls and
// deadlocks. Keeps its lines and writes them, within the window and the size limit, on finish().
class MermaidSink : public TraceSink {
public:
    struct Options {
        uint64_t from = 0;               // first seq drawn (0: from the first event)
        uint64_t to = 0;                 // last seq drawn (0: to the last event)
        std::vector<std::string> tasks;  // draw only what involves a task of one of these names (empty: all)
        std::size_t max_chars = 50'000;  // Mermaid's default maxTextSize, which GitHub's renderer keeps
        bool fence = false;              // wrap the diagram in a ```mermaid fence, for Markdown
    };
    explicit MermaidSink(std::ostream& out) : MermaidSink(out, Options{}) {}
    MermaidSink(std::ostream& out, Options opts);
    ~MermaidSink() override;
    void on_event(const Event& e) override;
    void finish();
    // After finish(): whether lines were left out for the size limit, and the seq of the first left out.
    bool truncated() const;
    uint64_t truncated_at() const;

    struct State;  // in kernel/machine/mermaid_sink.cpp

private:
    std::unique_ptr<State> s_;
};

// The symbolic name of a Mach return code ("MACH_SEND_INVALID_DEST"), or its hex value.
std::string code_name(int code);
// "EXC_BAD_ACCESS" for an exception type; "SIGSEGV" for a machsim signal (sig:: numbers).
const char* exception_name(int exception);
// An exception's code as its type defines it: a kern_return_t name for EXC_BAD_ACCESS, EXC_I386_* otherwise.
std::string exception_code_name(int exception, int code);
const char* signal_name(int signal);

}  // namespace machsim

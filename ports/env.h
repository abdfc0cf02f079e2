// Env: what the IPC layer needs from the machine, plus the IPC layer's own
// kernel-wide state (object numbering, the message pool, limits).
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "kernel/machine/clock.h"
#include "kernel/machine/scheduler.h"
#include "kernel/machine/trace_bus.h"
#include "ports/message.h"
#include "ports/port.h"

namespace machsim::ipc {

struct Env;

// Called for a message sent to a kernel-object port; it takes ownership of the message.
using KobjectServer = void (*)(Env& env, KMsg* msg, void* ctx);
// Called when the last send right to a kernel-object port goes (objects that live only
// as long as someone can name them, such as memory entries, end here).
using KobjectNoSenders = void (*)(Env& env, Port* port, void* ctx);

struct Env {
    Env(machine::Scheduler& s, machine::Clock& c, machine::TraceBus& t) : sched(s), clock(c), trace(t) {}
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;

    machine::Scheduler& sched;
    machine::Clock& clock;
    machine::TraceBus& trace;
    MsgPool msgs;

    bool fast_path = true;  // see ports/fastpath.h
    uint32_t qlimit_max = 16;
    uint32_t max_message = 1u << 20;
    uint32_t max_names = 1u << 16;

    uint32_t next_object = 0;  // port and set numbers
    uint32_t next_msg = 0;     // message numbers
    machine::List<Port, &Port::all_hook> ports;  // every port object still allocated

    KobjectServer kobject_server = nullptr;
    KobjectNoSenders kobject_no_senders = nullptr;
    void* kobject_ctx = nullptr;
};

// Formats and emits a Fail event; out of line so that callers stay small.
[[gnu::cold, gnu::noinline]] void emit_fail(Env& env, int code, fmt::string_view why, fmt::format_args args);

// Returns `code`; when a trace sink listens, first records why (seL4's userError).
template <class... Args>
[[nodiscard]] inline int fail(Env& env, int code, fmt::format_string<Args...> why, const Args&... args) {
    if (__builtin_expect(env.trace.active(), 0)) emit_fail(env, code, why, fmt::make_format_args(args...));
    return code;
}

}  // namespace machsim::ipc

#include "kernel/machine/trace_follow.h"

#include <fmt/format.h>

#include "mach/message.h"
#include "mach/notify.h"
#include "device/notify.h"

namespace machsim::machine {

void TraceFollower::on_event(const Event& e) {
    if (e.task != 0 && e.thread != 0) thread_task_[e.thread] = e.task;
    switch (e.kind) {
    case EventKind::TaskCreate: names_[e.task] = e.text ? e.text : ""; break;
    case EventKind::ThreadExit:
        calls_.erase(e.thread);
        copyins_.erase(e.thread);
        break;
    case EventKind::SyscallEnter:
        calls_[e.thread] = e.text ? e.text : "";
        copyins_[e.thread].clear();
        break;
    case EventKind::SyscallLeave: calls_.erase(e.thread); break;
    case EventKind::PortCreate: holders_[e.port] = e.space; break;
    case EventKind::RightCopyIn: copyins_[e.thread].push_back({e.space, e.name, e.extra}); break;
    case EventKind::RightCopyOut:
        if (e.extra == MACH_MSG_TYPE_PORT_RECEIVE) holders_[e.port] = e.space;
        break;
    case EventKind::Send: {
        Message m{.task = e.task, .thread = e.thread, .seq = e.seq, .tick = e.tick, .id = e.code, .port = e.port};
        m.kernel = e.extra == 1;
        if (!m.kernel) {
            // The destination's copy-in comes first among the message's: the one for the name sent to.
            for (const CopyIn& c : copyins_[e.thread])
                if (c.space == e.space && c.name == e.name) {
                    m.reply = c.disposition == MACH_MSG_TYPE_MOVE_SEND_ONCE;
                    break;
                }
        }
        copyins_[e.thread].clear();
        messages_[e.msg] = m;
        break;
    }
    case EventKind::Enqueue:
        if (auto it = messages_.find(e.msg); it != messages_.end()) it->second.queued = e.tick + 1;
        break;
    case EventKind::Handoff:
        if (auto it = messages_.find(e.msg); it != messages_.end()) {
            it->second.to_thread = e.extra;
            it->second.to_task = task_of(e.extra);
        }
        break;
    case EventKind::Dequeue:
        if (auto it = messages_.find(e.msg); it != messages_.end()) {
            it->second.to_thread = e.thread;
            it->second.to_task = e.task;
        }
        break;
    default: break;
    }
}

std::string TraceFollower::task_name(uint32_t task) const {
    if (task == 0) return "kernel";
    auto it = names_.find(task);
    return it == names_.end() ? fmt::format("task {}", task) : it->second;
}

uint32_t TraceFollower::task_of(uint32_t thread) const {
    auto it = thread_task_.find(thread);
    return it == thread_task_.end() ? 0 : it->second;
}

uint32_t TraceFollower::holder(uint32_t port) const {
    auto it = holders_.find(port);
    return it == holders_.end() ? 0 : it->second;
}

const TraceFollower::Message* TraceFollower::message(uint32_t msg) const {
    auto it = messages_.find(msg);
    return it == messages_.end() ? nullptr : &it->second;
}

const std::string& TraceFollower::call(uint32_t thread) const {
    static const std::string none;
    auto it = calls_.find(thread);
    return it == calls_.end() ? none : it->second;
}

std::vector<uint32_t> TraceFollower::taken_by(uint32_t thread) const {
    std::vector<uint32_t> out;
    for (const auto& [msg, m] : messages_)
        if (m.to_thread == thread) out.push_back(msg);
    return out;
}

std::vector<uint32_t> TraceFollower::pending() const {
    std::vector<uint32_t> out;
    for (const auto& [msg, m] : messages_) out.push_back(msg);
    return out;
}

const char* kernel_message_kind(int32_t id) {
    switch (id) {
    case MACH_NOTIFY_PORT_DELETED: return "port-deleted notification";
    case MACH_NOTIFY_PORT_DESTROYED: return "port-destroyed notification";
    case MACH_NOTIFY_NO_SENDERS: return "no-senders notification";
    case MACH_NOTIFY_SEND_ONCE: return "send-once notification";
    case MACH_NOTIFY_DEAD_NAME: return "dead-name notification";
    case 2401:
    case 2402:
    case 2403:
    case 2405:
    case 2406:
    case 2407: return "exception message";
    case DEVICE_INTR_NOTIFY: return "interrupt notification";
    default: return "";
    }
}

}  // namespace machsim::machine

// What the exporting sinks (Perfetto, Mermaid) both learn from the event stream: task names,
// which task a thread belongs to, who holds a port's receive right, and each message in flight
// (who sent it, whether as a reply, who it was handed to). Internal to kernel/machine.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "machsim/trace.h"

namespace machsim::machine {

class TraceFollower {
public:
    struct Message {
        uint32_t task = 0;    // who sent it (for a message the kernel composed: whose action caused it)
        uint32_t thread = 0;
        uint64_t seq = 0;     // of its send event
        uint64_t tick = 0;
        int32_t id = 0;       // msgh_id
        uint32_t port = 0;    // destination
        bool kernel = false;  // composed by the kernel (a notification, an exception message)
        bool reply = false;   // sent through a send-once right the sender moved (MOVE_SEND_ONCE)
        uint64_t queued = 0;  // tick it was queued at, +1 (0 = never queued: handed off, or not yet)
        uint32_t to_task = 0;    // set once handed off or dequeued: the thread that took it
        uint32_t to_thread = 0;
    };

    // Call first, for every event.
    void on_event(const Event& e);

    std::string task_name(uint32_t task) const;  // "kernel" for 0, "task N" if never introduced
    uint32_t task_of(uint32_t thread) const;     // 0 if unknown
    uint32_t holder(uint32_t port) const;        // task with the port's receive right, 0 if unknown
    const Message* message(uint32_t msg) const;  // null once forgotten (or never sent while attached)
    void forget(uint32_t msg) { messages_.erase(msg); }
    const std::string& call(uint32_t thread) const;  // the system call the thread is in, "" if none

    // Messages handed to or dequeued by `thread` that no receive line has claimed, in msg order.
    std::vector<uint32_t> taken_by(uint32_t thread) const;
    // Every message still known, in msg order.
    std::vector<uint32_t> pending() const;

private:
    struct CopyIn {
        uint32_t space, name, disposition;
    };
    std::map<uint32_t, std::string> names_;
    std::map<uint32_t, uint32_t> thread_task_;
    std::map<uint32_t, uint32_t> holders_;  // kept after the port dies: its messages die after it
    std::map<uint32_t, Message> messages_;
    std::map<uint32_t, std::string> calls_;
    std::map<uint32_t, std::vector<CopyIn>> copyins_;  // per thread, since its last send or call
};

// "dead-name notification" and the like for the ids of messages the kernel composes, else "".
const char* kernel_message_kind(int32_t id);

}  // namespace machsim::machine

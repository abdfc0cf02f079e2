// Census: counts every right and reference from the places that hold them
// (space entries, queued messages, messages held by waiting threads, the
// kernel's own references) and compares the totals with the counters each port
// keeps. Changes nothing, so it can run at any point between system calls.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "ports/env.h"
#include "ports/message.h"
#include "ports/port.h"
#include "ports/space.h"
#include "ports/waiter.h"

namespace machsim::ipc {

class Census {
public:
    void add_space(const IpcSpace& space);
    void add_waiter(const Waiter& w);          // the message it holds, if any
    void add_kernel_ref(const Port* p);        // a reference the kernel keeps for itself
    void add_kernel_right(const Carried& c);   // a right the kernel holds (an exception port, a reply port)
    // One line per disagreement; empty when the books balance.
    std::vector<std::string> check(Env& env);

private:
    struct Tally {
        uint32_t srights = 0;
        uint32_t sorights = 0;
        uint32_t refs = 0;
        uint32_t receive = 0;  // receive rights found (entries and in transit)
    };
    void add_carried(const Carried& c);
    void add_message(const KMsg& m);

    std::unordered_map<const Port*, Tally> tally_;
    std::vector<std::string> problems_;
    std::size_t messages_ = 0;
};

}  // namespace machsim::ipc

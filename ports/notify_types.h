// The record of a dead-name request, kept by the port it watches.
#pragma once

#include "mach/port.h"
#include "ports/message.h"

namespace machsim::ipc {

class IpcSpace;

struct DeadNameRequest {
    IpcSpace* space;         // the space whose name asked
    mach_port_name_t name;   // the name that will become a dead name
    Carried notify;          // send-once right the notification goes to
};

}  // namespace machsim::ipc

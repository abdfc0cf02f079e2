// The one table of Mach return-code names, used by the trace, the test
// helpers and mach_error_string.
#include <fmt/format.h>

#include <iterator>

#include "device/device_types.h"
#include "mach/exception_types.h"
#include "mach/kern_return.h"
#include "mach/message.h"
#include "mach/mig_errors.h"
#include "machsim/trace.h"

namespace machsim {

namespace {
struct CodeName {
    int code;
    const char* name;
};

#define C(x) {x, #x}
constexpr CodeName kCodes[] = {
    C(KERN_SUCCESS), C(KERN_INVALID_ADDRESS), C(KERN_PROTECTION_FAILURE), C(KERN_NO_SPACE),
    C(KERN_INVALID_ARGUMENT), C(KERN_FAILURE), C(KERN_RESOURCE_SHORTAGE), C(KERN_NOT_RECEIVER),
    C(KERN_NO_ACCESS), C(KERN_MEMORY_FAILURE), C(KERN_MEMORY_ERROR), C(KERN_ALREADY_IN_SET),
    C(KERN_NOT_IN_SET), C(KERN_NAME_EXISTS), C(KERN_ABORTED), C(KERN_INVALID_NAME), C(KERN_INVALID_TASK),
    C(KERN_INVALID_RIGHT), C(KERN_INVALID_VALUE), C(KERN_UREFS_OVERFLOW), C(KERN_INVALID_CAPABILITY),
    C(KERN_RIGHT_EXISTS), C(KERN_INVALID_HOST), C(KERN_MEMORY_PRESENT), C(KERN_MEMORY_DATA_MOVED),
    C(KERN_TERMINATED), C(KERN_NOT_SUPPORTED), C(KERN_NOT_WAITING), C(KERN_OPERATION_TIMED_OUT),
    C(KERN_DENIED), C(KERN_NOT_FOUND),
    C(MACH_SEND_IN_PROGRESS), C(MACH_SEND_INVALID_DATA), C(MACH_SEND_INVALID_DEST), C(MACH_SEND_TIMED_OUT),
    C(MACH_SEND_INVALID_VOUCHER), C(MACH_SEND_INTERRUPTED), C(MACH_SEND_MSG_TOO_SMALL),
    C(MACH_SEND_INVALID_REPLY), C(MACH_SEND_INVALID_RIGHT), C(MACH_SEND_INVALID_NOTIFY),
    C(MACH_SEND_INVALID_MEMORY), C(MACH_SEND_NO_BUFFER), C(MACH_SEND_TOO_LARGE), C(MACH_SEND_INVALID_TYPE),
    C(MACH_SEND_INVALID_HEADER), C(MACH_SEND_INVALID_TRAILER), C(MACH_SEND_INVALID_OPTIONS),
    C(MACH_RCV_IN_PROGRESS), C(MACH_RCV_INVALID_NAME), C(MACH_RCV_TIMED_OUT), C(MACH_RCV_TOO_LARGE),
    C(MACH_RCV_INTERRUPTED), C(MACH_RCV_PORT_CHANGED), C(MACH_RCV_INVALID_NOTIFY), C(MACH_RCV_INVALID_DATA),
    C(MACH_RCV_PORT_DIED), C(MACH_RCV_IN_SET), C(MACH_RCV_HEADER_ERROR), C(MACH_RCV_BODY_ERROR),
    C(MACH_RCV_INVALID_TYPE), C(MACH_RCV_SCATTER_SMALL), C(MACH_RCV_INVALID_TRAILER),
    C(MIG_TYPE_ERROR), C(MIG_REPLY_MISMATCH), C(MIG_REMOTE_ERROR), C(MIG_BAD_ID), C(MIG_BAD_ARGUMENTS),
    C(MIG_NO_REPLY), C(MIG_EXCEPTION), C(MIG_ARRAY_TOO_LARGE), C(MIG_SERVER_DIED),
    {1100, "BOOTSTRAP_NOT_PRIVILEGED"}, {1101, "BOOTSTRAP_NAME_IN_USE"}, {1102, "BOOTSTRAP_UNKNOWN_SERVICE"},
    {1103, "BOOTSTRAP_SERVICE_ACTIVE"}, {1104, "BOOTSTRAP_BAD_COUNT"}, {1105, "BOOTSTRAP_NO_MEMORY"},
    {1106, "BOOTSTRAP_NO_CHILDREN"},
    C(D_IO_ERROR), C(D_WOULD_BLOCK), C(D_NO_SUCH_DEVICE), C(D_ALREADY_OPEN), C(D_DEVICE_DOWN),
    C(D_INVALID_OPERATION), C(D_INVALID_RECNUM), C(D_INVALID_SIZE), C(D_NO_MEMORY), C(D_READ_ONLY),
};
#undef C
}  // namespace

std::string code_name(int code) {
    for (const CodeName& c : kCodes)
        if (c.code == code) return c.name;
    // Receive errors may carry MACH_MSG_* detail bits.
    int base = code & ~MACH_MSG_MASK;
    if (base != code) {
        for (const CodeName& c : kCodes)
            if (c.code == base) return fmt::format("{}|{:#x}", c.name, code & MACH_MSG_MASK);
    }
    return fmt::format("{:#x}", static_cast<unsigned>(code));
}

const char* exception_name(int exception) {
    static constexpr const char* kNames[] = {"EXC_0", "EXC_BAD_ACCESS", "EXC_BAD_INSTRUCTION", "EXC_ARITHMETIC",
                                             "EXC_EMULATION", "EXC_SOFTWARE", "EXC_BREAKPOINT", "EXC_SYSCALL",
                                             "EXC_MACH_SYSCALL", "EXC_RPC_ALERT", "EXC_CRASH", "EXC_RESOURCE",
                                             "EXC_GUARD", "EXC_CORPSE_NOTIFY"};
    return exception >= 0 && exception < static_cast<int>(std::size(kNames)) ? kNames[exception] : "EXC_?";
}

std::string exception_code_name(int exception, int code) {
    switch (exception) {
    case EXC_BAD_ACCESS: return code_name(code);  // a kern_return_t
    case EXC_BAD_INSTRUCTION:
        if (code == EXC_I386_INVOP) return "EXC_I386_INVOP";
        break;
    case EXC_ARITHMETIC: {
        static constexpr const char* kNames[] = {"0", "EXC_I386_DIV", "EXC_I386_INTO", "EXC_I386_NOEXT",
                                                 "EXC_I386_EXTOVR", "EXC_I386_EXTERR", "EXC_I386_EMERR",
                                                 "EXC_I386_BOUND", "EXC_I386_SSEEXTERR"};
        if (code > 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
        break;
    }
    }
    return fmt::format("{:#x}", static_cast<unsigned>(code));
}

// XNU's numbering (machsim::sig).
const char* signal_name(int signal) {
    static constexpr const char* kNames[] = {
        "SIG0",    "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGEMT",
        "SIGFPE",  "SIGKILL", "SIGBUS",    "SIGSEGV", "SIGSYS",   "SIGPIPE", "SIGALRM", "SIGTERM",
        "SIGURG",  "SIGSTOP", "SIGTSTP",   "SIGCONT", "SIGCHLD",  "SIGTTIN", "SIGTTOU", "SIGIO",
        "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGINFO", "SIGUSR1", "SIGUSR2"};
    return signal > 0 && signal < static_cast<int>(std::size(kNames)) ? kNames[signal] : "SIG?";
}

}  // namespace machsim

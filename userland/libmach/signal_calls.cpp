// machsim's signal calls (machsim.h): kill, sigaction and sigprocmask for tasks.
#include "kernel/gate/syscalls.h"
#include "machsim.h"

namespace machsim {

kern_return_t signal_action(int signal, const SignalAction* act, SignalAction* old) {
    return gate::sys_signal_action(signal, act, old);
}

kern_return_t signal_mask(MaskHow how, SignalSet set, SignalSet* old) { return gate::sys_signal_mask(how, set, old); }

SignalSet signal_pending() {
    SignalSet s = 0;
    return gate::sys_signal_pending(&s) == KERN_SUCCESS ? s : 0;
}

kern_return_t task_signal(mach_port_t task, int signal) { return gate::sys_task_signal(task, signal); }

}  // namespace machsim

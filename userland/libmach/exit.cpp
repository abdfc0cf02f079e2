// exit() called by task code ends that task, not the simulation. Programs link
// with `-Wl,--wrap=exit` and its siblings (machsim.pc's Libs, the Makefile's
// LDFLAGS), so their calls to exit, _exit, _Exit and quick_exit come here. Called
// by host code (main, a trace sink) they do what the C library's do.
#include "kernel/gate/syscalls.h"

namespace gate = machsim::gate;

extern "C" {

[[noreturn]] void __real_exit(int status);
[[noreturn]] void __real__exit(int status);
[[noreturn]] void __real__Exit(int status);
[[noreturn]] void __real_quick_exit(int status);

// gate::sys_exit returns only to host code.
[[noreturn]] void __wrap_exit(int status) {
    (void)gate::sys_exit(status);
    __real_exit(status);
}
[[noreturn]] void __wrap__exit(int status) {
    (void)gate::sys_exit(status);
    __real__exit(status);
}
[[noreturn]] void __wrap__Exit(int status) {
    (void)gate::sys_exit(status);
    __real__Exit(status);
}
[[noreturn]] void __wrap_quick_exit(int status) {
    (void)gate::sys_exit(status);
    __real_quick_exit(status);
}

}  // extern "C"

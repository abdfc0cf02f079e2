#include "mach/mach.h"
#include "servers/bootstrap.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

kern_return_t look_up_service(const char* service, mach_port_t* port) {
    kern_return_t kr = bootstrap_look_up(bootstrap_port, service, port);
    for (int tries = 1; tries < 100 && kr == BOOTSTRAP_UNKNOWN_SERVICE; ++tries) {
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        kr = bootstrap_look_up(bootstrap_port, service, port);
    }
    return kr;
}

}  // namespace machsim::demos

/* The bootstrap name server's client calls (launchd's names and codes).
 * Services are named by strings; the server hands out port rights. */
#ifndef MACHSIM_SERVERS_BOOTSTRAP_H
#define MACHSIM_SERVERS_BOOTSTRAP_H

#include "mach/mach.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BOOTSTRAP_MAX_NAME_LEN 128
typedef char name_t[BOOTSTRAP_MAX_NAME_LEN];

#define BOOTSTRAP_SUCCESS 0
#define BOOTSTRAP_NOT_PRIVILEGED 1100
#define BOOTSTRAP_NAME_IN_USE 1101
#define BOOTSTRAP_UNKNOWN_SERVICE 1102
#define BOOTSTRAP_SERVICE_ACTIVE 1103
#define BOOTSTRAP_BAD_COUNT 1104
#define BOOTSTRAP_NO_MEMORY 1105
#define BOOTSTRAP_NO_CHILDREN 1106

/* Message ids of the bootstrap protocol (replies are id + 100, as MIG's). */
#define BOOTSTRAP_MSG_CHECK_IN 402
#define BOOTSTRAP_MSG_REGISTER 403
#define BOOTSTRAP_MSG_LOOK_UP 404

/* Creates the service (or takes it over if its server died) and returns its
 * receive right. BOOTSTRAP_SERVICE_ACTIVE if a live server already has it. */
kern_return_t bootstrap_check_in(mach_port_t bp, const name_t service_name, mach_port_t *sp);
/* Registers a send right under a name. BOOTSTRAP_NAME_IN_USE if a live service has it. */
kern_return_t bootstrap_register(mach_port_t bp, const name_t service_name, mach_port_t sp);
/* A send right to the named service. BOOTSTRAP_UNKNOWN_SERVICE if none is alive. */
kern_return_t bootstrap_look_up(mach_port_t bp, const name_t service_name, mach_port_t *sp);

#ifdef __cplusplus
}
#endif

#endif

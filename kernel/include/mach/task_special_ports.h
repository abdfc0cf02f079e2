/* Special ports of a task (XNU numbering). */
#ifndef MACHSIM_MACH_TASK_SPECIAL_PORTS_H
#define MACHSIM_MACH_TASK_SPECIAL_PORTS_H

typedef int task_special_port_t;
#define TASK_KERNEL_PORT 1
#define TASK_HOST_PORT 2
#define TASK_NAME_PORT 3
#define TASK_BOOTSTRAP_PORT 4

#endif

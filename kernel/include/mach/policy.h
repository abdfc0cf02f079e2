/* Scheduling policy names, as task_info and thread_info report them (XNU osfmk/mach/policy.h). */
#ifndef MACHSIM_MACH_POLICY_H
#define MACHSIM_MACH_POLICY_H

typedef int policy_t;

#define POLICY_NULL 0
#define POLICY_TIMESHARE 1
#define POLICY_RR 2
#define POLICY_FIFO 4

#endif

/* thread_switch options (XNU values). */
#ifndef MACHSIM_MACH_THREAD_SWITCH_H
#define MACHSIM_MACH_THREAD_SWITCH_H

#define SWITCH_OPTION_NONE 0
#define SWITCH_OPTION_DEPRESS 1
#define SWITCH_OPTION_WAIT 2

#endif

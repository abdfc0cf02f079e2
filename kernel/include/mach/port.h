/* Port names, rights, types and port attributes (XNU osfmk/mach/port.h values). */
#ifndef MACHSIM_MACH_PORT_H
#define MACHSIM_MACH_PORT_H

#include "mach/machine_types.h"

typedef natural_t mach_port_name_t;
typedef mach_port_name_t *mach_port_name_array_t;
/* In user space a port is named by its name (as on XNU). */
typedef mach_port_name_t mach_port_t;
typedef mach_port_t *mach_port_array_t;

#define MACH_PORT_NULL ((mach_port_t)0)
#define MACH_PORT_DEAD ((mach_port_name_t)~0u)
#define MACH_PORT_VALID(name) (((name) != MACH_PORT_NULL) && ((name) != MACH_PORT_DEAD))

/* A name is an index into the space's table and an 8-bit generation. */
#define MACH_PORT_INDEX(name) ((name) >> 8)
#define MACH_PORT_GEN(name) (((name)&0xff) << 24)
#define MACH_PORT_MAKE(index, gen) (((index) << 8) | ((gen) >> 24))

typedef natural_t mach_port_right_t;
#define MACH_PORT_RIGHT_SEND ((mach_port_right_t)0)
#define MACH_PORT_RIGHT_RECEIVE ((mach_port_right_t)1)
#define MACH_PORT_RIGHT_SEND_ONCE ((mach_port_right_t)2)
#define MACH_PORT_RIGHT_PORT_SET ((mach_port_right_t)3)
#define MACH_PORT_RIGHT_DEAD_NAME ((mach_port_right_t)4)
#define MACH_PORT_RIGHT_LABELH ((mach_port_right_t)5) /* obsolete */
#define MACH_PORT_RIGHT_NUMBER ((mach_port_right_t)6)

typedef natural_t mach_port_type_t;
typedef mach_port_type_t *mach_port_type_array_t;
#define MACH_PORT_TYPE(right) ((mach_port_type_t)(((mach_port_type_t)1) << ((right) + ((mach_port_right_t)16))))
#define MACH_PORT_TYPE_NONE ((mach_port_type_t)0)
#define MACH_PORT_TYPE_SEND MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND)
#define MACH_PORT_TYPE_RECEIVE MACH_PORT_TYPE(MACH_PORT_RIGHT_RECEIVE)
#define MACH_PORT_TYPE_SEND_ONCE MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND_ONCE)
#define MACH_PORT_TYPE_PORT_SET MACH_PORT_TYPE(MACH_PORT_RIGHT_PORT_SET)
#define MACH_PORT_TYPE_DEAD_NAME MACH_PORT_TYPE(MACH_PORT_RIGHT_DEAD_NAME)
#define MACH_PORT_TYPE_LABELH MACH_PORT_TYPE(MACH_PORT_RIGHT_LABELH)
#define MACH_PORT_TYPE_SEND_RECEIVE (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE)
#define MACH_PORT_TYPE_SEND_RIGHTS (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)
#define MACH_PORT_TYPE_PORT_RIGHTS (MACH_PORT_TYPE_SEND_RIGHTS | MACH_PORT_TYPE_RECEIVE)
#define MACH_PORT_TYPE_PORT_OR_DEAD (MACH_PORT_TYPE_PORT_RIGHTS | MACH_PORT_TYPE_DEAD_NAME)
#define MACH_PORT_TYPE_ALL_RIGHTS (MACH_PORT_TYPE_PORT_OR_DEAD | MACH_PORT_TYPE_PORT_SET)
#define MACH_PORT_TYPE_DNREQUEST 0x80000000u
#define MACH_PORT_TYPE_SPREQUEST 0x40000000u
#define MACH_PORT_TYPE_SPREQUEST_DELAYED 0x20000000u

typedef natural_t mach_port_urefs_t;
typedef integer_t mach_port_delta_t;
typedef natural_t mach_port_seqno_t;
typedef natural_t mach_port_mscount_t;
typedef natural_t mach_port_msgcount_t;
typedef natural_t mach_port_rights_t;
typedef unsigned int mach_port_srights_t;

#define MACH_PORT_UREFS_MAX ((mach_port_urefs_t)((1 << 16) - 1))
#define MACH_PORT_SRIGHTS_NONE 0
#define MACH_PORT_SRIGHTS_PRESENT 1

typedef struct mach_port_status {
    mach_port_rights_t mps_pset;    /* name of the containing port set, or 0 */
    mach_port_seqno_t mps_seqno;    /* sequence number of the next message */
    mach_port_mscount_t mps_mscount; /* make-send count */
    mach_port_msgcount_t mps_qlimit;
    mach_port_msgcount_t mps_msgcount; /* messages queued */
    mach_port_rights_t mps_sorights;   /* send-once rights outstanding */
    boolean_t mps_srights;             /* do send rights exist? */
    boolean_t mps_pdrequest;           /* port-destroyed request armed? */
    boolean_t mps_nsrequest;           /* no-senders request armed? */
    natural_t mps_flags;
} mach_port_status_t;

/* Queue limits. machsim accepts qlimits up to 16 unless the kernel was
 * configured otherwise (docs/api.md); the constants keep XNU's values. */
#define MACH_PORT_QLIMIT_ZERO ((mach_port_msgcount_t)0)
#define MACH_PORT_QLIMIT_BASIC ((mach_port_msgcount_t)5)
#define MACH_PORT_QLIMIT_SMALL ((mach_port_msgcount_t)16)
#define MACH_PORT_QLIMIT_LARGE ((mach_port_msgcount_t)1024)
#define MACH_PORT_QLIMIT_KERNEL ((mach_port_msgcount_t)65534)
#define MACH_PORT_QLIMIT_MIN MACH_PORT_QLIMIT_ZERO
#define MACH_PORT_QLIMIT_DEFAULT MACH_PORT_QLIMIT_BASIC
#define MACH_PORT_QLIMIT_MAX MACH_PORT_QLIMIT_LARGE

typedef struct mach_port_limits {
    mach_port_msgcount_t mpl_qlimit;
} mach_port_limits_t;

/* The value a receiver keeps with its port (mach_port_get_context). */
typedef mach_vm_address_t mach_port_context_t;

/* Attributes of a port made by mach_port_construct (XNU). */
#define MPO_CONTEXT_AS_GUARD 0x01    /* not provided: guards */
#define MPO_QLIMIT 0x02              /* set the queue limit to mpl.mpl_qlimit */
#define MPO_TEMPOWNER 0x04           /* accepted, no effect (importance donation) */
#define MPO_IMPORTANCE_RECEIVER 0x08 /* accepted, no effect */
#define MPO_INSERT_SEND_RIGHT 0x10   /* also a send right under the same name */
#define MPO_STRICT 0x20              /* not provided: guards */
#define MPO_DENAP_RECEIVER 0x40      /* accepted, no effect */
#define MPO_IMMOVABLE_RECEIVE 0x80   /* not provided: guards */
#define MPO_FILTER_MSG 0x100         /* not provided */
#define MPO_TG_BLOCK_TRACKING 0x200  /* accepted, no effect */

typedef struct mach_port_options {
    uint32_t flags;
    mach_port_limits_t mpl;
    union {
        uint64_t reserved[2];
        mach_port_name_t work_interval_port;
    };
} mach_port_options_t;
typedef mach_port_options_t *mach_port_options_ptr_t;

typedef integer_t *mach_port_info_t;
typedef int mach_port_flavor_t;
#define MACH_PORT_LIMITS_INFO 1
#define MACH_PORT_RECEIVE_STATUS 2
#define MACH_PORT_DNREQUESTS_SIZE 3
#define MACH_PORT_LIMITS_INFO_COUNT ((natural_t)(sizeof(mach_port_limits_t) / sizeof(natural_t)))
#define MACH_PORT_RECEIVE_STATUS_COUNT ((natural_t)(sizeof(mach_port_status_t) / sizeof(natural_t)))

#endif

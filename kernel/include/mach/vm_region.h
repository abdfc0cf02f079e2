/* vm_region flavors and memory-entry types (XNU values). */
#ifndef MACHSIM_MACH_VM_REGION_H
#define MACHSIM_MACH_VM_REGION_H

#include "mach/machine_types.h"
#include "mach/port.h"
#include "mach/vm_types.h"

typedef int vm_region_flavor_t;
typedef int *vm_region_info_t;
typedef int *vm_region_info_64_t;
typedef uint64_t memory_object_offset_t;
typedef uint64_t memory_object_size_t;
typedef int vm_behavior_t;
typedef mach_port_t mem_entry_name_port_t;

#define VM_REGION_BASIC_INFO_64 9
#define VM_REGION_BASIC_INFO 10

#pragma pack(push, 4)
typedef struct vm_region_basic_info_64 {
    vm_prot_t protection;
    vm_prot_t max_protection;
    vm_inherit_t inheritance;
    boolean_t shared;
    boolean_t reserved;
    memory_object_offset_t offset;
    vm_behavior_t behavior;
    unsigned short user_wired_count;
} vm_region_basic_info_data_64_t;
#pragma pack(pop)

typedef vm_region_basic_info_data_64_t *vm_region_basic_info_64_t;
#define VM_REGION_BASIC_INFO_COUNT_64 \
    ((mach_msg_type_number_t)(sizeof(vm_region_basic_info_data_64_t) / sizeof(int)))

#pragma pack(push, 4)
typedef struct vm_region_basic_info {
    vm_prot_t protection;
    vm_prot_t max_protection;
    vm_inherit_t inheritance;
    boolean_t shared;
    boolean_t reserved;
    uint32_t offset; /* too small for a real offset, as on XNU */
    vm_behavior_t behavior;
    unsigned short user_wired_count;
} vm_region_basic_info_data_t;
#pragma pack(pop)

typedef vm_region_basic_info_data_t *vm_region_basic_info_t;
#define VM_REGION_BASIC_INFO_COUNT ((mach_msg_type_number_t)(sizeof(vm_region_basic_info_data_t) / sizeof(int)))

/* mach_make_memory_entry: create a new object instead of naming existing memory. */
#define MAP_MEM_NAMED_CREATE 0x020000
#define MAP_MEM_VM_COPY 0x200000
#define MAP_MEM_VM_SHARE 0x400000

#endif

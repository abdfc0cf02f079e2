// The mach_port_* calls. Each names its target task by a task-port send right,
// as MIG would; the work itself is ipc:: on the target's space.
#include <vector>

#include "kernel/gate/sys_common.h"
#include "ports/notify.h"
#include "ports/rights.h"

namespace machsim::gate {

void* target_kobject(tasks::Thread& self, mach_port_name_t name, ipc::KobjectKind kind) {
    ipc::Entry* e = self.task.space.lookup(name);
    if (!e || !e->has(MACH_PORT_TYPE_SEND)) return nullptr;
    ipc::Port* p = e->port();
    return p->kobject_kind == kind ? p->kobject : nullptr;
}

mach_port_name_t send_right_to(tasks::Thread& self, ipc::Port* p) {
    if (!p) return MACH_PORT_NULL;
    ipc::Carried c = ipc::make_send(p);
    mach_port_name_t n = MACH_PORT_NULL;
    if (ipc::copyout(self.task.space, c, &n) != KERN_SUCCESS) {
        ipc::carried_release(*self.waiter.env, c);
        return MACH_PORT_NULL;
    }
    return n;
}

kern_return_t copyin_send_arg(Kernel& k, tasks::Thread& self, mach_port_name_t port, tasks::HeldSend* out) {
    *out = {.port = nullptr, .dead = port == MACH_PORT_DEAD};
    if (!MACH_PORT_VALID(port)) return KERN_SUCCESS;  // MACH_PORT_NULL or MACH_PORT_DEAD
    if (ipc::copyin_check(self.task.space, port, MACH_MSG_TYPE_COPY_SEND) != KERN_SUCCESS)
        return ipc::fail(k.env, MACH_SEND_INVALID_RIGHT, "{:#x} is not a send right", port);
    ipc::Carried c = ipc::copyin(self.task.space, port, MACH_MSG_TYPE_COPY_SEND);
    *out = {.port = c.port, .dead = !c.port};  // no port: a dead name
    return KERN_SUCCESS;
}

namespace {

bool valid_disposition(mach_msg_type_name_t d) { return MACH_MSG_TYPE_PORT_ANY(d); }

}  // namespace

kern_return_t sys_mach_port_allocate(mach_port_name_t task, mach_port_right_t right, mach_port_name_t* name) {
    return task_call(Sys::mach_port_allocate, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        if (!put_user(name, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        mach_port_name_t n = MACH_PORT_NULL;
        kern_return_t kr = ipc::port_allocate(t.space, right, &n);
        if (kr == KERN_SUCCESS) (void)put_user(name, n);
        return kr;
    });
}

kern_return_t sys_mach_port_allocate_name(mach_port_name_t task, mach_port_right_t right, mach_port_name_t name) {
    return task_call(Sys::mach_port_allocate_name, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return ipc::port_allocate_name(t.space, right, name);
    });
}

kern_return_t sys_mach_port_deallocate(mach_port_name_t task, mach_port_name_t name) {
    return task_call(Sys::mach_port_deallocate, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return ipc::right_deallocate(t.space, name);
    });
}

kern_return_t sys_mach_port_destroy(mach_port_name_t task, mach_port_name_t name) {
    return task_call(Sys::mach_port_destroy, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return ipc::right_destroy(t.space, name);
    });
}

kern_return_t sys_mach_port_mod_refs(mach_port_name_t task, mach_port_name_t name, mach_port_right_t right,
                                     mach_port_delta_t delta) {
    return task_call(Sys::mach_port_mod_refs, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return ipc::right_mod_refs(t.space, name, right, delta);
    });
}

kern_return_t sys_mach_port_get_refs(mach_port_name_t task, mach_port_name_t name, mach_port_right_t right,
                                     mach_port_urefs_t* refs) {
    return task_call(Sys::mach_port_get_refs, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        mach_port_urefs_t n = 0;
        kern_return_t kr = ipc::right_get_refs(t.space, name, right, &n);
        if (kr == KERN_SUCCESS && !put_user(refs, n)) return KERN_INVALID_ADDRESS;
        return kr;
    });
}

kern_return_t sys_mach_port_type(mach_port_name_t task, mach_port_name_t name, mach_port_type_t* type) {
    return task_call(Sys::mach_port_type, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        mach_port_type_t ty = 0;
        kern_return_t kr = ipc::right_type(t.space, name, &ty);
        if (kr == KERN_SUCCESS && !put_user(type, ty)) return KERN_INVALID_ADDRESS;
        return kr;
    });
}

kern_return_t sys_mach_port_names(mach_port_name_t task, mach_port_name_array_t* names,
                                  mach_msg_type_number_t* names_count, mach_port_type_array_t* types,
                                  mach_msg_type_number_t* types_count) {
    return task_call(Sys::mach_port_names, task, [&](Kernel&, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(names, mach_port_name_array_t{}) || !put_user(types, mach_port_type_array_t{}) ||
            !put_user(names_count, mach_msg_type_number_t{0}) || !put_user(types_count, mach_msg_type_number_t{0}))
            return KERN_INVALID_ADDRESS;
        std::vector<mach_port_name_t> list = t.space.names();
        std::vector<mach_port_type_t> kinds;
        for (mach_port_name_t n : list) kinds.push_back(t.space.lookup(n)->type);
        if (list.empty()) return KERN_SUCCESS;
        // Like a MIG out-of-line reply: both arrays land in the caller's memory.
        vm_size_t bytes = list.size() * sizeof(mach_port_name_t);
        vm_address_t a = 0, b = 0;
        if (self.task.vm.allocate(a, bytes, VM_FLAGS_ANYWHERE) != KERN_SUCCESS) return KERN_RESOURCE_SHORTAGE;
        if (self.task.vm.allocate(b, bytes, VM_FLAGS_ANYWHERE) != KERN_SUCCESS) {
            (void)self.task.vm.deallocate(a, bytes);
            return KERN_RESOURCE_SHORTAGE;
        }
        (void)machine::copy_user(reinterpret_cast<void*>(a), list.data(), bytes);
        (void)machine::copy_user(reinterpret_cast<void*>(b), kinds.data(), bytes);
        auto count = static_cast<mach_msg_type_number_t>(list.size());
        (void)put_user(names, reinterpret_cast<mach_port_name_array_t>(a));
        (void)put_user(types, reinterpret_cast<mach_port_type_array_t>(b));
        (void)put_user(names_count, count);
        (void)put_user(types_count, count);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_mach_port_insert_right(mach_port_name_t task, mach_port_name_t name, mach_port_name_t poly,
                                         mach_msg_type_name_t poly_poly) {
    return task_call(Sys::mach_port_insert_right, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        // As MIG does: copy the right in from the caller first; if the kernel
        // routine then fails, the right is destroyed with the request.
        if (!valid_disposition(poly_poly))
            return ipc::fail(k.env, MACH_SEND_INVALID_TYPE, "disposition {} is not a port disposition", poly_poly);
        ipc::Carried c;
        if (poly == MACH_PORT_DEAD) {
            c.dead = true;
        } else if (poly != MACH_PORT_NULL) {
            if (ipc::copyin_check(self.task.space, poly, poly_poly) != KERN_SUCCESS)
                return ipc::fail(k.env, MACH_SEND_INVALID_RIGHT, "{:#x} cannot be copied in with disposition {}",
                                 poly, poly_poly);
            c = ipc::copyin(self.task.space, poly, poly_poly);
        }
        kern_return_t kr = ipc::insert_right(t.space, name, c);
        if (kr != KERN_SUCCESS) ipc::carried_release(k.env, c);
        return kr;
    });
}

kern_return_t sys_mach_port_extract_right(mach_port_name_t task, mach_port_name_t name,
                                          mach_msg_type_name_t msgt_name, mach_port_name_t* poly,
                                          mach_msg_type_name_t* poly_poly) {
    return task_call(Sys::mach_port_extract_right, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(poly, MACH_PORT_NULL) || !put_user(poly_poly, mach_msg_type_name_t{0})) return KERN_INVALID_ADDRESS;
        if (!valid_disposition(msgt_name)) return KERN_INVALID_VALUE;
        if (kern_return_t kr = ipc::copyin_check(t.space, name, msgt_name); kr != KERN_SUCCESS) return kr;
        ipc::Carried c = ipc::copyin(t.space, name, msgt_name);
        uint8_t type = c.type;
        mach_port_name_t out = MACH_PORT_NULL;
        if (ipc::copyout(self.task.space, c, &out) != KERN_SUCCESS) {
            ipc::carried_release(k.env, c);
            return KERN_RESOURCE_SHORTAGE;
        }
        (void)put_user(poly, out);
        (void)put_user(poly_poly, mach_msg_type_name_t{type});
        return KERN_SUCCESS;
    });
}

namespace {
constexpr mach_msg_type_number_t kMaxInfo = 16;  // integers in a port-info buffer
}

kern_return_t sys_mach_port_get_attributes(mach_port_name_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                           mach_port_info_t info, mach_msg_type_number_t* count) {
    return task_call(Sys::mach_port_get_attributes, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        mach_msg_type_number_t n = 0;
        if (!get_user(n, count)) return KERN_INVALID_ADDRESS;
        n = std::min(n, kMaxInfo);
        integer_t buf[kMaxInfo] = {};
        kern_return_t kr = ipc::get_attributes(t.space, name, flavor, buf, &n);
        if (kr != KERN_SUCCESS) return kr;
        if (!machine::copy_user(info, buf, n * sizeof(integer_t)) || !put_user(count, n)) return KERN_INVALID_ADDRESS;
        return KERN_SUCCESS;
    });
}

kern_return_t sys_mach_port_set_attributes(mach_port_name_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                           mach_port_info_t info, mach_msg_type_number_t count) {
    return task_call(Sys::mach_port_set_attributes, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        mach_msg_type_number_t n = std::min(count, kMaxInfo);
        integer_t buf[kMaxInfo] = {};
        if (!machine::copy_user(buf, info, n * sizeof(integer_t))) return KERN_INVALID_ADDRESS;
        return ipc::set_attributes(t.space, name, flavor, buf, n);
    });
}

kern_return_t sys_mach_port_move_member(mach_port_name_t task, mach_port_name_t member, mach_port_name_t after) {
    return task_call(Sys::mach_port_move_member, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return ipc::move_member(t.space, member, after);
    });
}

kern_return_t sys_mach_port_insert_member(mach_port_name_t task, mach_port_name_t member, mach_port_name_t set) {
    return task_call(Sys::mach_port_insert_member, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return ipc::insert_member(t.space, member, set);
    });
}

kern_return_t sys_mach_port_extract_member(mach_port_name_t task, mach_port_name_t member, mach_port_name_t set) {
    return task_call(Sys::mach_port_extract_member, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return ipc::extract_member(t.space, member, set);
    });
}

kern_return_t sys_mach_port_get_set_status(mach_port_name_t task, mach_port_name_t set, mach_port_name_array_t* members,
                                           mach_msg_type_number_t* count) {
    return task_call(Sys::mach_port_get_set_status, task, [&](Kernel&, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(members, mach_port_name_array_t{}) || !put_user(count, mach_msg_type_number_t{0}))
            return KERN_INVALID_ADDRESS;
        std::vector<mach_port_name_t> list;
        if (kern_return_t kr = ipc::set_members(t.space, set, list); kr != KERN_SUCCESS) return kr;
        if (list.empty()) return KERN_SUCCESS;
        // Like a MIG out-of-line reply, as mach_port_names: the array lands in the caller's memory.
        vm_size_t bytes = list.size() * sizeof(mach_port_name_t);
        vm_address_t a = 0;
        if (self.task.vm.allocate(a, bytes, VM_FLAGS_ANYWHERE) != KERN_SUCCESS) return KERN_RESOURCE_SHORTAGE;
        (void)machine::copy_user(reinterpret_cast<void*>(a), list.data(), bytes);
        (void)put_user(members, reinterpret_cast<mach_port_name_array_t>(a));
        (void)put_user(count, static_cast<mach_msg_type_number_t>(list.size()));
        return KERN_SUCCESS;
    });
}

kern_return_t sys_mach_port_construct(mach_port_name_t task, mach_port_options_ptr_t options,
                                      mach_port_context_t context, mach_port_name_t* name) {
    return task_call(Sys::mach_port_construct, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        mach_port_options_t opts{};
        if (!get_user(opts, options) || !put_user(name, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        mach_port_name_t n = MACH_PORT_NULL;
        kern_return_t kr = ipc::port_construct(t.space, opts, context, &n);
        if (kr == KERN_SUCCESS) (void)put_user(name, n);
        return kr;
    });
}

kern_return_t sys_mach_port_destruct(mach_port_name_t task, mach_port_name_t name, mach_port_delta_t srdelta,
                                     mach_port_context_t guard) {
    return task_call(Sys::mach_port_destruct, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return ipc::port_destruct(t.space, name, srdelta, guard);
    });
}

kern_return_t sys_mach_port_get_context(mach_port_name_t task, mach_port_name_t name, mach_port_context_t* context) {
    return task_call(Sys::mach_port_get_context, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        if (!put_user(context, mach_port_context_t{0})) return KERN_INVALID_ADDRESS;
        mach_port_context_t value = 0;
        kern_return_t kr = ipc::get_context(t.space, name, &value);
        if (kr == KERN_SUCCESS) (void)put_user(context, value);
        return kr;
    });
}

kern_return_t sys_mach_port_set_context(mach_port_name_t task, mach_port_name_t name, mach_port_context_t context) {
    return task_call(Sys::mach_port_set_context, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return ipc::set_context(t.space, name, context);
    });
}

kern_return_t sys_mach_port_request_notification(mach_port_name_t task, mach_port_name_t name, mach_msg_id_t id,
                                                 mach_port_mscount_t sync, mach_port_name_t notify,
                                                 mach_msg_type_name_t notify_poly, mach_port_name_t* previous) {
    return task_call(Sys::mach_port_request_notification, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(previous, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        // As MIG does: the notify right is copied in from the caller first; it must be send-once.
        ipc::Carried note;
        if (notify == MACH_PORT_DEAD) {
            note.dead = true;
        } else if (notify != MACH_PORT_NULL) {
            if (notify_poly != MACH_MSG_TYPE_MAKE_SEND_ONCE && notify_poly != MACH_MSG_TYPE_MOVE_SEND_ONCE)
                return ipc::fail(k.env, MACH_SEND_INVALID_TYPE, "the notify right must be made or moved send-once");
            if (ipc::copyin_check(self.task.space, notify, notify_poly) != KERN_SUCCESS)
                return ipc::fail(k.env, MACH_SEND_INVALID_RIGHT, "notify port {:#x} cannot be copied in as {}",
                                 notify, notify_poly);
            note = ipc::copyin(self.task.space, notify, notify_poly);
        }
        ipc::Carried prev;
        kern_return_t kr = ipc::request_notification(t.space, name, id, sync, note, prev);
        ipc::carried_release(k.env, note);  // still ours if the request failed
        if (prev.port) {
            mach_port_name_t n = MACH_PORT_NULL;
            if (ipc::copyout(self.task.space, prev, &n) != KERN_SUCCESS) ipc::carried_release(k.env, prev);
            (void)put_user(previous, n);
        }
        return kr;
    });
}

mach_port_name_t sys_mach_reply_port() {
    mach_port_name_t n = MACH_PORT_NULL;
    (void)call(Sys::mach_reply_port, [&](Kernel&, tasks::Thread& self) {
        return ipc::port_allocate(self.task.space, MACH_PORT_RIGHT_RECEIVE, &n);
    });
    return n;
}

}  // namespace machsim::gate

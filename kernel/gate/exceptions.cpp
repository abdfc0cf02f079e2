// Faults become Mach exceptions (R23): the faulting thread sends an
// exception_raise RPC (or, by the handler's behaviour, exception_raise_state or
// exception_raise_state_identity) to its own exception port, then to its task's;
// a handler that answers KERN_SUCCESS resumes it at the faulting instruction, or
// where the state it sent back says. With no
// handler left the fault becomes a signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, as
// XNU maps them), whose default action ends the task.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <vector>

#include "kernel/gate/sys_common.h"
#include "kernel/gate/thread_state.h"
#include "mach/exc.h"
#include "mach/mig_errors.h"
#include "ports/mqueue.h"
#include "ports/rights.h"

namespace machsim::gate {

namespace {

struct Exception {
    exception_type_t type = 0;
    int64_t code = 0;
    int64_t subcode = 0;
    int signal = 0;  // what it becomes when nobody handles it
    std::string what;
};

std::string prot_text(vm_prot_t p) {
    return fmt::format("{}{}{}", p & VM_PROT_READ ? 'r' : '-', p & VM_PROT_WRITE ? 'w' : '-',
                       p & VM_PROT_EXECUTE ? 'x' : '-');
}

// What the hardware fault means in Mach terms, and a line a person can act on.
Exception classify(const tasks::Thread& t, const machine::FaultInfo& f, uint32_t runaway_ms) {
    Exception e;
    if (f.runaway) {  // no Mach exception: a CPU limit, as RLIMIT_CPU gives SIGXCPU
        e.signal = sig::XCPU;
        e.what = fmt::format("thread {} ran {} ms of host CPU without entering the kernel (an endless loop?)", t.id,
                             runaway_ms);
        return e;
    }
    switch (f.signal) {
    case SIGSEGV:
    case SIGBUS: {
        e.type = EXC_BAD_ACCESS;
        e.subcode = static_cast<int64_t>(f.address);
        uintptr_t start = 0;
        const machine::AddressSpace::Region* r =
            machine::AddressSpace::in_range(f.address) ? t.task.vm.find(f.address, &start) : nullptr;
        e.code = r || f.stack_overflow ? KERN_PROTECTION_FAILURE : KERN_INVALID_ADDRESS;
        e.signal = e.code == KERN_INVALID_ADDRESS ? sig::SEGV : sig::BUS;  // as XNU's ux_exception
        std::string where;
        if (f.stack_overflow) {
            where = "stack overflow: the guard gap below the thread's stack";
        } else if (r) {
            where = fmt::format("in region {:#x}-{:#x} {}", start, start + r->size, prot_text(r->prot));
        } else if (machine::AddressSpace::in_range(f.address)) {
            where = "no region of this task there";
        } else {
            where = "outside the task's memory";
        }
        e.what = fmt::format("thread {} {} {:#x} ({})", t.id, f.write ? "wrote" : "touched", f.address, where);
        break;
    }
    case SIGILL:
        e.type = EXC_BAD_INSTRUCTION;
        e.code = EXC_I386_INVOP;
        e.signal = sig::ILL;
        e.what = fmt::format("thread {} ran an invalid instruction at {:#x}", t.id, f.pc);
        break;
    case SIGFPE:
        e.type = EXC_ARITHMETIC;
        e.code = f.code == FPE_INTDIV || f.code == FPE_INTOVF ? EXC_I386_DIV : EXC_I386_SSEEXTERR;
        e.signal = sig::FPE;
        e.what = fmt::format("thread {} {} at {:#x}", t.id,
                             e.code == EXC_I386_DIV ? "divided an integer by zero" : "raised a floating-point trap",
                             f.pc);
        break;
    default:  // SIGABRT: abort() is a signal, not an exception
        e.signal = sig::ABRT;
        e.what = fmt::format("thread {} called abort()", t.id);
        break;
    }
    return e;
}

bool on_fault(machine::Context* c, const machine::FaultInfo& f, void* kernel) {
    return static_cast<Kernel*>(kernel)->handle_fault(*static_cast<tasks::Thread*>(c), f);
}

}  // namespace

void install_fault_path(Kernel& k) { k.sched.set_fault_handler(on_fault, &k); }

bool Kernel::handle_fault(tasks::Thread& t, const machine::FaultInfo& f) {
    sched.kernel_entry(cfg.syscall_cost);  // a fault costs time, so a handler that never fixes it cannot spin forever
    Exception e = classify(t, f, cfg.runaway_ms);
    auto address = static_cast<uint64_t>(e.type == EXC_BAD_ACCESS ? f.address : f.pc);
    MS_TRACE(trace, Event{.kind = EventKind::Fault,
                          .code = e.type,
                          .before = static_cast<uint32_t>(address),
                          .after = static_cast<uint32_t>(address >> 32),
                          .extra = static_cast<uint32_t>(e.code),
                          .text = e.what.c_str()});
    if (e.type && !t.kill_pending) {
        tasks::ExceptionPorts* levels[] = {&t.exc_ports, &t.task.exc_ports};
        for (int level = 0; level < 2 && !t.kill_pending; ++level) {
            const tasks::ExceptionPort& ep = (*levels[level])[e.type];
            if (!ep.port || !ep.port->active) continue;
            if (raise_exception(t, ep, level + 1, e.type, e.code, e.subcode) == KERN_SUCCESS) return true;
        }
    }
    if (t.kill_pending) {  // ended while its handler had it (task_terminate, the end of the run)
        thread_finished(&t, t.kill_reason, 0, {});
        return false;
    }
    return fault_signal(t, e.signal, e.what);
}

namespace {

// The request for one exception, after its header: for the behaviours that carry
// them, the body count and the thread and task descriptors (their rights go in as
// BodyItems); NDR, type and codes; for the behaviours that carry it, the thread's
// state, cut to its size as MIG sends it.
class RequestBody {
public:
    void add(const void* p, std::size_t n) {
        const auto* b = static_cast<const char*>(p);
        bytes_.insert(bytes_.end(), b, b + n);
    }
    template <class T>
    void add(const T& value) {
        add(&value, sizeof value);
    }
    const char* data() const { return bytes_.data(); }
    uint32_t size() const { return static_cast<uint32_t>(bytes_.size()); }

private:
    std::vector<char> bytes_;
};

// The answer in reply message m to request `id`. For a state behaviour, an answer
// of KERN_SUCCESS sets the thread's registers from the reply first; a state that
// cannot be set is the answer instead, as in XNU's exception_deliver.
kern_return_t take_answer(ipc::Env& env, tasks::Thread& t, ipc::KMsg* m, mach_msg_id_t id, bool state) {
    exception_raise_reply_t r{};
    if (m->complex || m->size < sizeof r || m->header()->msgh_id != id + EXCEPTION_REPLY_ID_OFFSET)
        return MIG_REPLY_MISMATCH;  // e.g. the send-once notification of a handler that died
    std::memcpy(&r, m->data(), sizeof r);
    if (!state || r.RetCode != KERN_SUCCESS) return r.RetCode;
    constexpr std::size_t kFixed = offsetof(exception_raise_state_reply_t, new_state);
    if (m->size < kFixed) return MIG_REPLY_MISMATCH;
    int flavor = 0;
    mach_msg_type_number_t count = 0;
    std::memcpy(&flavor, m->data() + offsetof(exception_raise_state_reply_t, flavor), sizeof flavor);
    std::memcpy(&count, m->data() + offsetof(exception_raise_state_reply_t, new_stateCnt), sizeof count);
    if (count > THREAD_STATE_MAX || m->size != kFixed + count * sizeof(natural_t)) return MIG_REPLY_MISMATCH;
    natural_t words[kLargestState] = {};  // a longer state is no flavor set_thread_state takes
    std::memcpy(words, m->data() + kFixed, std::min(count, kLargestState) * sizeof(natural_t));
    return set_thread_state(env, t, flavor, words, count);
}

}  // namespace

kern_return_t Kernel::raise_exception(tasks::Thread& t, const tasks::ExceptionPort& ep, int level,
                                      exception_type_t type, int64_t code, int64_t subcode) {
    if (!t.exc_reply) t.exc_reply = ipc::port_create(env, t.task.id);
    // ep is the slot itself: while the thread waits, a handler may set it to
    // another port or none, so the trace keeps the id of the port asked.
    const auto port_id = ep.port->id();
    const exception_behavior_t kind = ep.behavior & ~MACH_EXCEPTION_MASK;
    const bool codes64 = ep.behavior & MACH_EXCEPTION_CODES;
    const bool identity = kind != EXCEPTION_STATE;  // EXCEPTION_DEFAULT and EXCEPTION_STATE_IDENTITY
    const bool state = kind != EXCEPTION_DEFAULT;
    natural_t old_state[kLargestState] = {};
    mach_msg_type_number_t old_count = kLargestState;
    // The handler's flavor was checked when it was set; the thread is stopped at its fault.
    if (state && get_thread_state(env, t, ep.flavor, old_state, &old_count) != KERN_SUCCESS) return KERN_FAILURE;

    constexpr uint32_t kHeader = sizeof(mach_msg_header_t);
    RequestBody body;
    ipc::BodyItem items[2];
    std::size_t n_items = 0;
    if (identity) {
        body.add(mach_msg_body_t{2});
        mach_msg_port_descriptor_t d{};
        d.disposition = MACH_MSG_TYPE_PORT_SEND;
        d.type = MACH_MSG_PORT_DESCRIPTOR;
        for (ipc::Port* p : {t.thread_port, t.task.task_port}) {
            items[n_items].offset = kHeader + body.size();
            items[n_items++].right = ipc::make_send(p);
            body.add(d);
        }
    }
    body.add(NDR_record_t MACHSIM_NDR_NATIVE);
    body.add(type);
    body.add(mach_msg_type_number_t{2});
    if (codes64) {
        body.add(static_cast<mach_exception_data_type_t>(code));
        body.add(static_cast<mach_exception_data_type_t>(subcode));
    } else {  // an address is cut to its low 32 bits
        body.add(static_cast<exception_data_type_t>(code));
        body.add(static_cast<exception_data_type_t>(subcode));
    }
    if (state) {
        body.add(ep.flavor);
        body.add(old_count);
        body.add(old_state, old_count * sizeof(natural_t));
    }
    const mach_msg_id_t id = (codes64 ? MACH_EXCEPTION_RAISE_ID : EXCEPTION_RAISE_ID) +
                             (kind == EXCEPTION_STATE ? 1 : kind == EXCEPTION_STATE_IDENTITY ? 2 : 0);
    ipc::Carried dest = ipc::copy_send(ep.port);
    ipc::Carried reply = ipc::make_send_once(t.exc_reply);
    MS_TRACE(trace, Event{.kind = EventKind::ExceptionRaise,
                          .port = port_id,
                          .code = type,
                          .extra = static_cast<uint32_t>(level)});
    if (!ipc::kernel_send_request(env, dest, reply, id, body.data(), body.size(), items, n_items))
        return KERN_FAILURE;
    ipc::KMsg* m = nullptr;
    kern_return_t answer;
    if (ipc::kernel_receive(env, t.waiter, t.exc_reply, &m) != MACH_MSG_SUCCESS) {
        answer = KERN_ABORTED;  // thread_abort or termination
        // The handler still holds the send-once right: its late answer must not be
        // taken for the answer to this thread's next exception. As XNU deallocates
        // the reply port of an interrupted kernel RPC, the port goes (the handler's
        // right becomes a dead name); the next exception makes a new one.
        ipc::port_destroy(env, t.exc_reply);
        t.exc_reply = nullptr;
    } else {
        answer = take_answer(env, t, m, id, state);
        ipc::msg_consume(env, m);
    }
    MS_TRACE(trace, Event{.kind = EventKind::ExceptionReply, .port = port_id, .code = answer});
    return answer;
}

// --- exception ports ---------------------------------------------------------

namespace {

// Checks the arguments of a *_set_exception_ports call as XNU's
// set_exception_ports_validation (osfmk/kern/ipc_tt.c) does, in its order; `port` is
// the handler copied in (null: MACH_PORT_NULL, MACH_PORT_DEAD or a dead name), whose
// behaviour alone is checked. Then machsim's own refusal of what it cannot send.
kern_return_t check_set(Kernel& k, exception_mask_t mask, const ipc::Port* port, exception_behavior_t behavior,
                        thread_state_flavor_t flavor) {
    if (mask & ~static_cast<exception_mask_t>(EXC_MASK_VALID))
        return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "exception mask {:#x} has bits outside EXC_MASK_VALID", mask);
    const exception_behavior_t kind = behavior & ~MACH_EXCEPTION_MASK;
    if (port && (kind < EXCEPTION_DEFAULT || kind > EXCEPTION_STATE_IDENTITY_PROTECTED))
        return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{:#x} is not an exception behaviour", behavior);
    if (flavor != 0 && !VALID_THREAD_STATE_FLAVOR(flavor))
        return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{} is not a thread state flavor of x86", flavor);
    if ((kind == EXCEPTION_IDENTITY_PROTECTED || (behavior & MACH_EXCEPTION_BACKTRACE_PREFERRED)) &&
        !(behavior & MACH_EXCEPTION_CODES))
        return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "behaviour {:#x} needs MACH_EXCEPTION_CODES", behavior);
    if (port && (kind == EXCEPTION_IDENTITY_PROTECTED || kind == EXCEPTION_STATE_IDENTITY_PROTECTED))
        return ipc::fail(k.env, KERN_INVALID_ARGUMENT,
                         "behaviour {:#x}: machsim sends no identity-protected messages", behavior);
    if (port && kind != EXCEPTION_DEFAULT && !state_flavor_provided(flavor))
        return ipc::fail(k.env, KERN_INVALID_ARGUMENT,
                         "behaviour {:#x} sends thread state, and flavor {} is not one machsim gives "
                         "(x86_THREAD_STATE64, x86_EXCEPTION_STATE64, x86_THREAD_STATE, x86_EXCEPTION_STATE)",
                         behavior, flavor);
    return KERN_SUCCESS;
}

kern_return_t set_ports(Kernel& k, tasks::Thread& self, tasks::ExceptionPorts& ports, exception_mask_t mask,
                        mach_port_name_t port, exception_behavior_t behavior, thread_state_flavor_t flavor) {
    // The port first, as the MIG request carries it; a call that then fails drops the copy.
    tasks::HeldSend handler;
    if (kern_return_t kr = copyin_send_arg(k, self, port, &handler); kr != KERN_SUCCESS) return kr;
    auto [p, dead] = handler;
    if (kern_return_t kr = check_set(k, mask, p, behavior, flavor); kr != KERN_SUCCESS) {
        if (p) ipc::release_send(k.env, p);
        return kr;
    }
    for (int type = 1; type < EXC_TYPES_COUNT; ++type) {
        if (!(mask & (1u << type))) continue;
        tasks::ExceptionPort& slot = ports[type];
        if (slot.port) ipc::release_send(k.env, slot.port);
        slot = {{p ? ipc::copy_send(p).port : nullptr, dead}, behavior, flavor};
    }
    if (p) ipc::release_send(k.env, p);  // the one taken from the caller; each slot holds its own
    return KERN_SUCCESS;
}

// ports: null for a thread that has no table yet (it reports no entry).
kern_return_t get_ports(Kernel& k, tasks::Thread& self, const tasks::ExceptionPorts* ports, exception_mask_t mask,
                        exception_mask_array_t masks, mach_msg_type_number_t* count,
                        exception_handler_array_t handlers, exception_behavior_array_t behaviors,
                        exception_flavor_array_t flavors) {
    if (mask & ~static_cast<exception_mask_t>(EXC_MASK_VALID))
        return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "exception mask {:#x} has bits outside EXC_MASK_VALID", mask);
    mach_msg_type_number_t room = 0;
    if (!get_user(room, count)) return KERN_INVALID_ADDRESS;
    // One entry per distinct handler, as XNU groups them.
    struct Group {
        exception_mask_t mask;
        tasks::ExceptionPort port;
    };
    std::vector<Group> groups;
    for (int type = 1; ports && type < EXC_TYPES_COUNT; ++type) {
        if (!(mask & (1u << type))) continue;
        const tasks::ExceptionPort& ep = (*ports)[type];
        auto same = [&](const Group& g) {
            return g.port.port == ep.port && g.port.dead == ep.dead && g.port.behavior == ep.behavior &&
                   g.port.flavor == ep.flavor;
        };
        auto it = std::find_if(groups.begin(), groups.end(), same);
        if (it != groups.end()) {
            it->mask |= 1u << type;
        } else if (groups.size() < room) {
            groups.push_back({1u << type, ep});
        }
    }
    // Everything is written before any right is copied out, so that a bad array
    // costs the caller no rights.
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const tasks::ExceptionPort& ep = groups[i].port;
        if (!put_user(&masks[i], groups[i].mask) || !put_user(&handlers[i], mach_port_name_t{MACH_PORT_NULL}) ||
            !put_user(&behaviors[i], ep.behavior) || !put_user(&flavors[i], ep.flavor))
            return KERN_INVALID_ADDRESS;
    }
    if (!put_user(count, static_cast<mach_msg_type_number_t>(groups.size()))) return KERN_INVALID_ADDRESS;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        mach_port_name_t name = MACH_PORT_NULL;
        const tasks::ExceptionPort& ep = groups[i].port;
        if (ep.live()) {
            ipc::Carried c = ipc::copy_send(ep.port);
            if (ipc::copyout(self.task.space, c, &name) != KERN_SUCCESS) ipc::carried_release(k.env, c);
        } else if (ep.reads_dead()) {
            name = MACH_PORT_DEAD;
        }
        (void)put_user(&handlers[i], name);  // writable: checked above
    }
    return KERN_SUCCESS;
}

}  // namespace

kern_return_t sys_task_set_exception_ports(mach_port_name_t task, exception_mask_t mask, mach_port_name_t port,
                                           exception_behavior_t behavior, thread_state_flavor_t flavor) {
    return task_call(Sys::task_set_exception_ports, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) {
        return set_ports(k, self, t.exc_ports, mask, port, behavior, flavor);
    });
}

kern_return_t sys_thread_set_exception_ports(mach_port_name_t thread, exception_mask_t mask, mach_port_name_t port,
                                             exception_behavior_t behavior, thread_state_flavor_t flavor) {
    return thread_call(Sys::thread_set_exception_ports, thread, [&](Kernel& k, tasks::Thread& self, tasks::Thread& t) {
        kern_return_t kr = set_ports(k, self, t.exc_ports, mask, port, behavior, flavor);
        if (kr == KERN_SUCCESS) t.exc_ports_made = true;
        return kr;
    });
}

kern_return_t sys_task_get_exception_ports(mach_port_name_t task, exception_mask_t mask, exception_mask_array_t masks,
                                           mach_msg_type_number_t* count, exception_handler_array_t handlers,
                                           exception_behavior_array_t behaviors, exception_flavor_array_t flavors) {
    return task_call(Sys::task_get_exception_ports, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) {
        return get_ports(k, self, &t.exc_ports, mask, masks, count, handlers, behaviors, flavors);
    });
}

kern_return_t sys_thread_get_exception_ports(mach_port_name_t thread, exception_mask_t mask,
                                             exception_mask_array_t masks, mach_msg_type_number_t* count,
                                             exception_handler_array_t handlers, exception_behavior_array_t behaviors,
                                             exception_flavor_array_t flavors) {
    return thread_call(Sys::thread_get_exception_ports, thread, [&](Kernel& k, tasks::Thread& self, tasks::Thread& t) {
        return get_ports(k, self, t.exc_ports_made ? &t.exc_ports : nullptr, mask, masks, count, handlers, behaviors,
                         flavors);
    });
}

}  // namespace machsim::gate

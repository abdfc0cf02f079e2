#include "kernel/gate/kernel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "kernel/machine/fault.h"
#include "kernel/machine/memory_object.h"
#include "mach/mig_errors.h"
#include "ports/census.h"
#include "ports/mqueue.h"
#include "ports/rights.h"

namespace machsim::gate {

namespace {

const char* end_text(TaskEnd end) { return task_end_name(end); }

// The entry point of every thread, on its own stack.
void thread_main(machine::Context* c) {
    auto* t = static_cast<tasks::Thread*>(c);
    TaskEnd how = TaskEnd::Exited;
    int code = 0;
    std::string detail;
    if (t->kill_pending) {
        how = t->kill_reason;
    } else {
        try {
            code = t->body();
            if (t->kill_pending) {  // it swallowed the unwinding (catch (...)) and returned: still killed
                how = t->kill_reason;
                code = 0;
            }
        } catch (const tasks::ThreadKilled&) {
            how = t->kill_reason;
        } catch (const std::exception& e) {
            how = TaskEnd::Crashed;
            detail = e.what();
        } catch (...) {
            how = TaskEnd::Crashed;
            detail = "an exception that is not a std::exception";
        }
    }
    Kernel::current()->thread_finished(t, how, code, std::move(detail));
}

// Messages to kernel objects: machsim's kernel objects serve no messages yet,
// so the sender gets MIG's "bad id" reply, as from a MIG server that does not
// know the routine.
void kobject_server(ipc::Env& env, ipc::KMsg* m, void*) {
    ipc::Carried reply = m->reply;
    m->reply = {};
    mach_msg_id_t id = m->header()->msgh_id;
    ipc::msg_destroy(env, m, "kernel objects serve no messages");
    if (!reply.port) return;
    mig_reply_error_t r{};
    r.RetCode = MIG_BAD_ID;
    ipc::kernel_send(env, reply, id + 100, reinterpret_cast<char*>(&r) + sizeof(mach_msg_header_t),
                     sizeof r - sizeof(mach_msg_header_t));
}

// The last send right to a kernel object is gone. Nothing can map a memory
// entry any more; an ended semaphore's port can go.
void kobject_no_senders(ipc::Env& env, ipc::Port* p, void* ctx) {
    if (!p->kobject) return;
    if (p->kobject_kind == ipc::KobjectKind::MemoryEntry) {
        static_cast<Kernel*>(ctx)->drop_memory_entry(p);
    } else if (p->kobject_kind == ipc::KobjectKind::Semaphore) {
        auto* s = static_cast<tasks::Semaphore*>(p->kobject);
        if (!s->active) tasks::semaphore_release(env, *s);
    }
}

}  // namespace

ipc::Port* Kernel::adopt_memory_entry(std::unique_ptr<tasks::MemoryEntry> entry) {
    ipc::Port* p = ipc::port_create(env, 0);
    p->kobject_kind = ipc::KobjectKind::MemoryEntry;
    p->kobject = entry.get();
    entry->port = p;
    memory_entries_[p->id()] = std::move(entry);
    return p;
}

void Kernel::drop_memory_entry(ipc::Port* p) {
    auto it = memory_entries_.find(p->id());
    if (it == memory_entries_.end()) return;
    p->kobject = nullptr;
    it->second->port = nullptr;
    memory_entries_.erase(it);
    ipc::port_destroy(env, p);  // the kernel's reference
}

Kernel::Kernel(const Config& c) : cfg(c) {
    env.qlimit_max = cfg.qlimit_max;
    env.max_message = cfg.max_message;
    env.max_names = cfg.max_names;
    env.kobject_server = kobject_server;
    env.kobject_no_senders = kobject_no_senders;
    const char* fast = std::getenv("MACHSIM_FASTPATH");  // "0": general path only (equivalence runs)
    env.fast_path = !(fast && std::string(fast) == "0");
    env.kobject_ctx = this;
    sched.set_irq(&irq);
    console.set_echo(cfg.console_echo);
    machine::install_fault_handler();
    install_fault_path(*this);
}

Kernel::~Kernel() {
    // The clean-up below is no part of a run: it tells no sink. A sink declared after the
    // kernel (as the command's is) is already gone when a kernel that never ran is destroyed.
    trace.detach_all();
    Kernel* prev = running_;
    running_ = this;
    auto discard_threads = [this] {
        for (auto& t : tasks_)
            for (auto& th : t->threads) sched.discard(th.get());
    };
    // A kernel that never ran (or could not finish) still owns its tasks' rights.
    discard_threads();
    for (auto& t : tasks_) {
        if (!t->alive) continue;
        t->live_threads = 0;
        tasks::teardown(env, *t);
    }
    discard_threads();  // teardown may have woken some
    devices.shut_down();
    host.shut_down();
    if (bootstrap_port_) {
        bootstrap_port_->unref();
        bootstrap_port_ = nullptr;
    }
    // Leaked ports were reported by the run; they stay allocated rather than be freed in use.
    while (ipc::Port* p = env.ports.pop_front()) p->registry = nullptr;
    running_ = prev;
}

void Kernel::boot(std::function<int()> bootstrap_server) {
    spawn("bootstrap", std::move(bootstrap_server), SpawnOptions{.daemon = true});
    tasks::Task& t = *tasks_.back();
    // Its thread could not start (no stack: see the report): the task is gone with its space,
    // and tasks start without a bootstrap port rather than a name be left in a dead space.
    if (!t.alive) return;
    mach_port_name_t name = MACH_PORT_NULL;
    kern_return_t kr = ipc::port_allocate(t.space, MACH_PORT_RIGHT_RECEIVE, &name);
    MS_ASSERT(kr == KERN_SUCCESS, "cannot allocate the bootstrap port");
    bootstrap_port_ = t.space.lookup(name)->port();
    bootstrap_port_->ref();
    ipc::Carried send = ipc::make_send(bootstrap_port_);
    mach_port_name_t same = MACH_PORT_NULL;
    kr = ipc::copyout(t.space, send, &same);  // joins the receive right's name (R1)
    MS_ASSERT(kr == KERN_SUCCESS && same == name, "bootstrap port names disagree");
    t.bootstrap_name = name;
    t.bootstrap.port = ipc::make_send(bootstrap_port_).port;
}

namespace {

// Gives a new task t its bootstrap port: a send right the kernel holds for it (its
// special port) and one in its space (bootstrap_port). From a parent, copies of the
// parent's special port, as XNU's task_create copies itk_bootstrap; from the host,
// rights made to the bootstrap server's port, if it lives.
void give_bootstrap(tasks::Task& t, const tasks::Task* parent, ipc::Port* server) {
    const tasks::HeldSend from = parent ? parent->bootstrap : tasks::HeldSend{server};
    if (from.live()) {
        auto right = [&] { return parent ? ipc::copy_send(from.port) : ipc::make_send(from.port); };
        t.bootstrap.port = right().port;
        ipc::Carried mine = right();
        (void)ipc::copyout(t.space, mine, &t.bootstrap_name);  // a new space has room
    } else if (parent && from.reads_dead()) {
        t.bootstrap.dead = true;
        t.bootstrap_name = MACH_PORT_DEAD;
    }
}

}  // namespace

tasks::Task& Kernel::create_task(std::string name, SpawnOptions opts, const tasks::Task* parent) {
    const uint32_t id = next_task_id();
    tasks_.push_back(std::make_unique<tasks::Task>(env, memory_objects, id, std::move(name), opts.daemon));
    tasks::Task& t = *tasks_.back();
    t.privileged = opts.privileged;
    MS_TRACE(trace, Event{.kind = EventKind::TaskCreate, .task = id, .extra = opts.daemon ? 1u : 0u,
                          .text = t.name.c_str()});
    t.task_port = ipc::port_create(env, id);
    t.task_port->kobject_kind = ipc::KobjectKind::Task;
    t.task_port->kobject = &t;
    ipc::Carried self = ipc::make_send(t.task_port);
    (void)ipc::copyout(t.space, self, &t.self_name);
    give_bootstrap(t, parent, bootstrap_port_);
    return t;
}

uint32_t Kernel::spawn(std::string name, std::function<int()> body, SpawnOptions opts, const tasks::Task* parent) {
    tasks::Task& t = create_task(std::move(name), opts, parent);
    const uint32_t id = t.id;
    if (!start_thread(t, std::move(body), true)) {
        t.end = TaskEnd::Crashed;
        t.detail = at_thread_limit()
                       ? fmt::format("no thread may start: {} are alive (Config::max_threads)", live_threads_)
                       : "the host refused a thread stack (too many threads for vm.max_map_count?)";
        finish_task(t);
    }
    return id;
}

tasks::Thread* Kernel::start_thread(tasks::Task& t, std::function<int()> body, bool main) {
    if (t.ending) return nullptr;  // it would outlive kill_task's sweep
    if (at_thread_limit()) return nullptr;
    t.threads.push_back(std::make_unique<tasks::Thread>(t, ++next_thread_, env, std::move(body)));
    tasks::Thread* th = t.threads.back().get();
    th->main = main;
    th->started_at = clock.now();
    if (!sched.start(th, thread_main)) {
        th->body = nullptr;
        return nullptr;  // no thread+ line: it never starts, so it would get no thread- line
    }
    MS_TRACE(trace, Event{.kind = EventKind::ThreadCreate, .task = t.id, .thread = th->id});
    th->thread_port = ipc::port_create(env, t.id);
    th->thread_port->kobject_kind = ipc::KobjectKind::Thread;
    th->thread_port->kobject = th;
    ++t.live_threads;
    ++live_threads_;
    if (!t.keeps_run && !t.daemon) {
        t.keeps_run = true;
        ++live_ordinary_;
    }
    if (t.suspend_count > 0) sched.hold(th);  // a thread of a suspended task starts suspended
    return th;
}

void Kernel::kill_task(tasks::Task& t, TaskEnd why) {
    t.ending = true;
    for (auto& th : t.threads) kill(th.get(), why);
    if (t.live_threads == 0 && t.alive) {  // made by task_create, with no thread (left): nothing to unwind
        if (t.end == TaskEnd::Running) t.end = why;
        finish_task(t);
    }
}

void Kernel::attach(TraceSink* sink) {
    trace.attach(sink);
    for (auto& t : tasks_)
        sink->on_event(Event{.seq = 0, .tick = clock.now(), .kind = EventKind::TaskCreate, .task = t->id,
                             .extra = t->daemon ? 1u : 0u, .text = t->name.c_str()});
}

void Kernel::thread_finished(tasks::Thread* t, TaskEnd how, int code, std::string detail) {
    tasks::Task& task = t->task;
    MS_TRACE(trace, Event{.kind = EventKind::ThreadExit, .task = task.id, .thread = t->id});
    tasks::release_thread_ports(env, *t);
    if (how == TaskEnd::Crashed && task.end != TaskEnd::Crashed) {
        task.end = TaskEnd::Crashed;  // a crash in any thread ends the task
        task.exit_code = code;
        task.detail = std::move(detail);
        kill_task(task, TaskEnd::Crashed);
    } else if (t->main && task.end == TaskEnd::Running) {
        task.end = how;  // the first thread returning ends the task, as main() does
        task.exit_code = code;
        task.detail = std::move(detail);
        kill_task(task, how);
    }
    --live_threads_;
    if (--task.live_threads == 0) {
        if (task.end == TaskEnd::Running) task.end = how;
        finish_task(task);
    }
}

void Kernel::finish_task(tasks::Task& task) {
    if (task.end == TaskEnd::Running) task.end = TaskEnd::Exited;
    std::string how = task.detail.empty() ? end_text(task.end) : fmt::format("{}: {}", end_text(task.end), task.detail);
    MS_TRACE(trace, Event{.kind = EventKind::TaskExit, .task = task.id, .code = task.exit_code, .text = how.c_str()});
    tasks::teardown(env, task);
    devices.sweep("delivery port died with its task");  // a driver's end frees its lines at once
    if (task.keeps_run && --live_ordinary_ == 0) sched.set_return_to_idle(true);
}

void Kernel::suspend_task(tasks::Task& t, tasks::Thread& caller) {
    if (t.suspend_count++ > 0) return;
    for (auto& th : t.threads)
        if (th.get() != &caller && th->state() != machine::RunState::Dead && !th->kill_pending) sched.hold(th.get());
    // Last: the caller stops here until resumed; unless it is being terminated (a
    // destructor suspending its own task while it unwinds), as the others above.
    if (&caller.task == &t && !caller.kill_pending) sched.hold(&caller);
}

bool Kernel::resume_task(tasks::Task& t) {
    if (t.suspend_count == 0) return false;
    if (--t.suspend_count > 0) return true;
    for (auto& th : t.threads)
        if (th->suspend_count == 0) sched.release(th.get());
    // A signal posted meanwhile interrupted no wait (its threads were held):
    // now one can take it, as if it had been posted now.
    signals_changed(t);
    return true;
}

void Kernel::kill(tasks::Thread* t, TaskEnd why) {
    if (t->state() == machine::RunState::Dead || t->kill_pending) return;
    t->kill_pending = true;
    t->attention = true;
    t->kill_reason = why;
    sched.release(t);  // it must run to unwind, suspended or not
    if (t->state() == machine::RunState::Blocked) {
        if (t->abort_wait) {
            t->abort_wait(t);
        } else {
            sched.wake(t, KERN_ABORTED);
        }
    }
}

RunReport Kernel::run() {
    MS_ASSERT(running_ == nullptr, "Kernel::run called while a kernel runs on this thread");
    running_ = this;
    machine::install_fault_handler();  // host code may have replaced it since the kernel was made
    machine::Watchdog watchdog(cfg.runaway_ms);
    if (cfg.max_ticks) sched.set_time_limit(cfg.max_ticks);
    bool time_limit = false;
    for (;;) {
        sched.run_ready();
        if (live_ordinary_ == 0) break;
        if (cfg.max_ticks && clock.now() >= cfg.max_ticks) {
            time_limit = true;
            break;
        }
        sched.set_return_to_idle(false);
        // Raises of lines nobody could be told about (no driver, or masked) wake nobody.
        uint64_t next = std::min(timers.next_deadline(), irq.next_useful_deadline());
        if (next == machine::TimerQueue::kNever) break;  // nobody can ever run again
        if (cfg.max_ticks && next > cfg.max_ticks) {
            clock.advance_to(cfg.max_ticks);
            time_limit = true;
            break;
        }
        clock.advance_to(next);
        timers.fire(clock.now());
        irq.fire(clock.now());
    }
    RunReport report = make_report(time_limit);
    running_ = nullptr;
    ran_ = true;
    return report;
}

std::vector<std::string> Kernel::check_invariants() {
    ipc::Census census;
    for (auto& t : tasks_) {
        census.add_space(t->space);
        census.add_kernel_ref(t->task_port);
        auto add_exception_ports = [&](const tasks::ExceptionPorts& ports) {
            for (const tasks::ExceptionPort& ep : ports)
                if (ep.port) census.add_kernel_right({ep.port, MACH_MSG_TYPE_PORT_SEND, false});
        };
        add_exception_ports(t->exc_ports);
        if (t->bootstrap.port) census.add_kernel_right({t->bootstrap.port, MACH_MSG_TYPE_PORT_SEND, false});
        for (auto& th : t->threads) {
            census.add_waiter(th->waiter);
            census.add_kernel_ref(th->thread_port);
            if (th->exc_reply) census.add_kernel_right({th->exc_reply, MACH_MSG_TYPE_PORT_RECEIVE, false});
            add_exception_ports(th->exc_ports);
        }
        for (tasks::Semaphore* s = t->semaphores.front(); s; s = t->semaphores.next(s))
            census.add_kernel_ref(s->port);
    }
    for (auto& [id, e] : memory_entries_) census.add_kernel_ref(e->port);
    census.add_kernel_ref(bootstrap_port_);
    devices.add_to_census(census);
    host.add_to_census(census);
    std::vector<std::string> problems = census.check(env);
    // An ended semaphore is kept only while send rights to its port remain: past that
    // nothing can reach it, and a task that creates and destroys semaphores in a loop
    // would grow without bound.
    for (auto& t : tasks_) {
        std::size_t unreachable = 0;
        for (tasks::Semaphore* s = t->semaphores.front(); s; s = t->semaphores.next(s))
            if (!s->active && (!s->port || s->port->srights == 0)) ++unreachable;
        if (unreachable > 0)
            problems.push_back(fmt::format("task {} ({}) keeps {} ended semaphore(s) that no send right reaches",
                                           t->id, t->name, unreachable));
    }
    return problems;
}

RunReport Kernel::make_report(bool time_limit) {
    RunReport report;
    report.accounting = check_invariants();
    report.seed = cfg.seed;
    report.policy = cfg.policy;
    report.kernel_entries = sched.kernel_entries();
    report.time_limit = time_limit;
    report.deadlock = !time_limit && live_ordinary_ > 0;
    if (report.deadlock) collect_deadlock(report);
    shut_down_everything(time_limit);
    devices.shut_down();
    host.shut_down();
    if (bootstrap_port_) {  // the run is over: no task will be spawned with it again
        bootstrap_port_->unref();
        bootstrap_port_ = nullptr;
    }
    sched.drop_spare_fault_stack();  // no task runs any more
    check_leaks(report);
    report.ticks = clock.now();
    for (auto& t : tasks_) {
        TaskReport r;
        r.id = t->id;
        r.name = t->name;
        r.daemon = t->daemon;
        r.end = t->end;
        r.exit_code = t->exit_code;
        r.detail = t->detail;
        report.tasks.push_back(std::move(r));
    }
    report.events = trace.count();
    return report;
}

std::vector<BlockedThread::TaskRef> Kernel::senders_of(const std::vector<const ipc::Port*>& ports) const {
    std::vector<BlockedThread::TaskRef> out;
    for (const auto& t : tasks_) {
        if (!t->alive) continue;
        bool holds = false;
        t->space.for_each_entry([&](mach_port_name_t, const ipc::Entry& e) {
            holds |= e.has(MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE) &&
                     std::find(ports.begin(), ports.end(), e.port()) != ports.end();
        });
        if (holds) out.push_back({t->id, t->name});
    }
    return out;
}

void Kernel::collect_deadlock(RunReport& report) {
    for (auto& t : tasks_) {
        if (!t->alive || t->daemon) continue;
        for (auto& th : t->threads) {
            if (!th->stalled()) continue;
            BlockedThread b;
            b.task = t->id;
            b.task_name = t->name;
            b.thread = th->id;
            const ipc::Waiter& w = th->waiter;
            if (w.queue) {
                b.waiting = w.sending ? "send" : "receive";
                b.port = w.on->id();
                std::vector<const ipc::Port*> ports;  // the port waited on, or the set's members
                if (w.on->kind() == ipc::ObjectKind::Port) {
                    auto* p = ipc::as_port(w.on);
                    b.name = w.sending && w.msg ? w.msg->header()->msgh_remote_port : p->receiver_name;
                    b.holder = p->receiver ? p->receiver->task_id() : 0;
                    ports.push_back(p);
                } else {
                    auto* s = ipc::as_set(w.on);
                    b.name = s->name;
                    b.holder = s->space ? s->space->task_id() : 0;
                    for (ipc::Port* m = s->members.front(); m; m = s->members.next(m)) ports.push_back(m);
                }
                if (!w.sending) b.senders = senders_of(ports);
            } else if (th->state() == machine::RunState::Ready) {
                b.waiting = "suspended";
            } else if (th->wait_object != &th->waiter) {
                auto* s = static_cast<tasks::Semaphore*>(th->wait_object);
                b.waiting = "semaphore";
                b.port = s->port ? s->port->id() : 0;
                b.name = th->semaphore_name;
                b.holder = s->owner->id;
            } else {
                b.waiting = "sleep";
            }
            if (tasks::Task* h = task(b.holder)) b.holder_name = h->name;
            MS_TRACE(trace, Event{.kind = EventKind::Deadlock, .task = b.task, .thread = b.thread, .port = b.port,
                                  .space = b.task, .name = b.name, .extra = b.holder, .text = b.waiting.c_str()});
            report.blocked.push_back(std::move(b));
        }
    }
}

void Kernel::shut_down_everything(bool time_limit) {
    sched.set_time_limit(machine::TimerQueue::kNever);
    for (auto& t : tasks_) {
        if (!t->alive) continue;
        TaskEnd why = t->daemon ? TaskEnd::ShutDown : time_limit ? TaskEnd::Stopped : TaskEnd::Deadlocked;
        if (t->live_threads == 0) {  // made by task_create and never given a thread: it did nothing wrong
            why = TaskEnd::Exited;
            t->detail = "it never had a thread";
        }
        kill_task(*t, why);
    }
    sched.set_return_to_idle(false);
    // Killed threads unwind; their calls no longer block, so this ends.
    for (int round = 0; round < 1000 && sched.has_ready(); ++round) {
        sched.run_ready();
        sched.set_return_to_idle(false);
    }
}

void Kernel::check_leaks(RunReport& report) {
    auto holder = [this](uint32_t id) {
        tasks::Task* t = task(id);
        return t ? fmt::format("task {} ({})", id, t->name) : std::string("the kernel");
    };
    for (ipc::Port* p = env.ports.front(); p; p = env.ports.next(p)) {
        report.leaks.push_back(fmt::format(
            "port P{} ({}): made by {}, receive right last held by {}; {} queued, {} send and {} send-once rights",
            p->id(), p->active ? "alive" : "dead", holder(p->created_by), holder(p->last_holder), p->queue.size(),
            p->srights, p->sorights));
    }
    if (env.msgs.live() > 0) report.leaks.push_back(fmt::format("{} message(s) never freed", env.msgs.live()));
    if (stacks.in_use() > 0) report.leaks.push_back(fmt::format("{} thread stack(s) still in use", stacks.in_use()));
    for (auto& t : tasks_)
        if (std::size_t n = t->vm.mapped_bytes())
            report.leaks.push_back(fmt::format("task {} ({}) still maps {} bytes", t->id, t->name, n));
    // Every region and memory entry is gone now; with no other kernel in the
    // process, no memory object may remain (a reference counting mistake).
    if (memory_objects.live() > 0)
        report.leaks.push_back(fmt::format("{} memory object(s) never freed", memory_objects.live()));
}

}  // namespace machsim::gate

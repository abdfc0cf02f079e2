// C Threads over machsim's threads and semaphores.
//
// Task code runs without preemption between kernel entries, so the library's
// own state (a mutex's held flag, a condition's waiter count) needs no atomic
// operations: a test and the set after it happen together. Every kernel call
// (semaphore_create, _wait, _signal) may let other threads run, so the state is
// looked at again after one. Waiting is always a semaphore wait in the kernel:
// a thread blocked on a mutex or a condition shows up as such in traces and in
// deadlock reports.
#include "cthreads.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include "kernel/gate/syscalls.h"

namespace {

// The library's state for one task: the threads cthread_fork made that have not
// ended, for cthread_exit in the first thread, which waits for them.
struct TaskState {
    int live = 0;
    semaphore_t all_done = MACH_PORT_NULL;  // signalled when `live` drops to 0 and someone waits
};

// Thrown by cthread_exit in a forked thread, caught where the thread began.
struct Exit {
    any_t result;
};

[[noreturn]] void fatal(const char* what) {
    std::fprintf(stderr, "cthreads: %s\n", what);
    std::abort();  // ends the task with SIGABRT; the others run on
}

// A semaphore for *where, made on first need. Another thread may make one while
// this one is in the kernel: then that one is kept and this one goes.
void ensure_semaphore(semaphore_t* where) {
    if (*where != MACH_PORT_NULL) return;
    semaphore_t s = MACH_PORT_NULL;
    if (semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0) != KERN_SUCCESS)
        fatal("no semaphore could be made (the task's name space is full?)");
    if (*where == MACH_PORT_NULL) {
        *where = s;
    } else {
        (void)semaphore_destroy(mach_task_self(), s);
    }
}

// Waits for a signal on s. A wait cut short (thread_abort, a signal handled) is
// waited again: the signal it waits for has not come.
void wait_for(semaphore_t s) {
    kern_return_t kr;
    while ((kr = semaphore_wait(s)) == KERN_ABORTED) {
    }
    if (kr != KERN_SUCCESS) fatal("a condition was cleared while a thread waited on it");
}

std::shared_ptr<TaskState> task_state() {
    std::shared_ptr<void>* slot = machsim::gate::task_user_data();
    if (!slot) return nullptr;
    if (!*slot) *slot = std::make_shared<TaskState>();
    return std::static_pointer_cast<TaskState>(*slot);
}

}  // namespace

// One thread's record. The thread owns it (a forked thread's body holds it, and
// so does the kernel's word for the thread), and the kernel keeps a task's threads
// until the task ends: a cthread_t stays valid as long as code of its task can run.
// So joining or detaching frees nothing, and nothing refers back to itself.
// A thread's place in the queue of the mutex it waits for (a thread waits for one at a time).
struct mutex_waiter {
    cthread* self;
    mutex_waiter* next;
};

struct cthread {
    std::shared_ptr<TaskState> task;
    bool forked = false;
    bool ended = false;
    bool detached = false;
    bool joined = false;
    semaphore_t finished = MACH_PORT_NULL;  // signalled once, when it ends, for cthread_join
    semaphore_t handed = MACH_PORT_NULL;    // signalled when a mutex it waits for is handed to it
    mutex_waiter waiting{this, nullptr};    // its place in that mutex's queue
    any_t result = nullptr;
    std::string name;
    any_t data = nullptr;
};

namespace {

// Takes w out of m's queue of waiting threads, if it is there.
void leave_queue(mutex_t m, mutex_waiter* w) {
    mutex_waiter** at = &m->first;
    mutex_waiter* prev = nullptr;
    while (*at && *at != w) {
        prev = *at;
        at = &(*at)->next;
    }
    if (!*at) return;
    *at = w->next;
    if (m->last == w) m->last = prev;
}

// A forked thread has ended with `result`.
void finish(cthread& t, any_t result) {
    if (t.handed != MACH_PORT_NULL) (void)semaphore_destroy(mach_task_self(), t.handed);
    t.handed = MACH_PORT_NULL;
    t.ended = true;
    t.result = result;
    if (t.detached) {
        (void)semaphore_destroy(mach_task_self(), t.finished);
    } else {
        (void)semaphore_signal(t.finished);
    }
    TaskState& ts = *t.task;
    if (--ts.live == 0 && ts.all_done != MACH_PORT_NULL) (void)semaphore_signal(ts.all_done);
}

}  // namespace

extern "C" {

cthread_t cthread_self(void) {
    std::shared_ptr<void>* slot = machsim::gate::thread_user_data();
    if (!slot) return NO_CTHREAD;  // not task code
    if (!*slot) {  // a thread cthread_fork did not make: the task's first, say
        auto t = std::make_shared<cthread>();
        t->task = task_state();
        *slot = t;
    }
    return static_cast<cthread*>(slot->get());
}

cthread_t cthread_fork(cthread_fn_t func, any_t arg) {
    if (!func || cthread_self() == NO_CTHREAD) return NO_CTHREAD;
    auto t = std::make_shared<cthread>();
    t->forked = true;
    t->task = task_state();
    if (semaphore_create(mach_task_self(), &t->finished, SYNC_POLICY_FIFO, 0) != KERN_SUCCESS) return NO_CTHREAD;
    ++t->task->live;  // before the new thread can run (the call below may switch to it)
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = machsim::gate::sys_thread_start(
        [t, func, arg] {
            *machsim::gate::thread_user_data() = t;
            any_t result = nullptr;
            {
                // A thread terminated (thread_terminate, its task's end) or crashed unwinds
                // through here: its joiner still hears of its end. Only while an exception
                // unwinds may a dying thread still make kernel calls (gate/entry.h).
                struct OnUnwind {
                    cthread& t;
                    ~OnUnwind() {
                        if (std::uncaught_exceptions() > 0) finish(t, nullptr);
                    }
                } on_unwind{*t};
                try {
                    result = func(arg);
                } catch (const Exit& e) {
                    result = e.result;
                }
            }
            finish(*t, result);
        },
        &port);
    if (kr != KERN_SUCCESS) {
        --t->task->live;
        (void)semaphore_destroy(mach_task_self(), t->finished);
        return NO_CTHREAD;
    }
    (void)mach_port_deallocate(mach_task_self(), port);  // the record is the handle; the port is not needed
    return t.get();
}

any_t cthread_join(cthread_t t) {
    if (!t || !t->forked || t->joined || t->detached) fatal("cthread_join of a thread that cannot be joined");
    if (t == cthread_self()) fatal("a thread joined itself");
    t->joined = true;
    wait_for(t->finished);
    any_t result = t->result;
    (void)semaphore_destroy(mach_task_self(), t->finished);
    return result;
}

void cthread_detach(cthread_t t) {
    if (!t || !t->forked || t->joined || t->detached) fatal("cthread_detach of a thread that cannot be detached");
    t->detached = true;
    if (t->ended) (void)semaphore_destroy(mach_task_self(), t->finished);  // nobody will take its signal
}

void cthread_exit(any_t result) {
    cthread* self = cthread_self();
    if (!self) std::exit(static_cast<int>(reinterpret_cast<intptr_t>(result)));
    if (self->forked) throw Exit{result};
    // The task's first thread: the task lives on until every forked thread has ended.
    TaskState& ts = *self->task;
    while (ts.live > 0) {
        ensure_semaphore(&ts.all_done);
        if (ts.live > 0) wait_for(ts.all_done);
    }
    machsim::gate::sys_exit(static_cast<int>(reinterpret_cast<intptr_t>(result)));
    std::abort();  // unreachable: sys_exit ends the task
}

void cthread_yield(void) { (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0); }

void cthread_set_name(cthread_t t, const char* name) {
    if (t) t->name = name ? name : "";
}
const char* cthread_name(cthread_t t) { return t && !t->name.empty() ? t->name.c_str() : "?"; }
void cthread_set_data(cthread_t t, any_t data) {
    if (t) t->data = data;
}
any_t cthread_data(cthread_t t) { return t ? t->data : nullptr; }

// --- mutexes -------------------------------------------------------------------

mutex_t mutex_alloc(void) {
    auto* m = new mutex;
    mutex_init(m);
    return m;
}

void mutex_free(mutex_t m) {
    mutex_clear(m);
    delete m;
}

void mutex_init(mutex_t m) { *m = MUTEX_INITIALIZER; }

void mutex_clear(mutex_t m) {
    if (m->first) fatal("mutex_clear of a mutex that threads wait for");
}

void mutex_set_name(mutex_t m, const char* name) { m->name = name; }
const char* mutex_name(mutex_t m) { return m->name ? m->name : "?"; }

boolean_t mutex_try_lock(mutex_t m) {
    if (m->held) return FALSE;
    m->held = 1;
    m->holder = cthread_self();
    return TRUE;
}

void mutex_lock(mutex_t m) {
    if (mutex_try_lock(m)) return;
    cthread_t self = cthread_self();
    if (m->holder != NO_CTHREAD && m->holder == self) fatal("a thread locked a mutex it holds");
    ensure_semaphore(&self->handed);  // a kernel call: the holder may have let go meanwhile
    if (mutex_try_lock(m)) return;
    // mutex_unlock names the thread it hands the mutex to (holder), then signals
    // that thread's own semaphore, which keeps the signal until the thread waits.
    mutex_waiter& w = self->waiting;
    w.next = nullptr;
    if (m->last) m->last->next = &w;
    else m->first = &w;
    m->last = &w;
    // A thread ended while it waits (thread_terminate, its task's end) unwinds from
    // here: it leaves the queue, or passes on a mutex handed to it meanwhile, so that
    // the others are not left waiting for it.
    struct Leave {
        mutex_t m;
        cthread_t self;
        ~Leave() {
            if (std::uncaught_exceptions() == 0) return;
            if (m->holder == self) mutex_unlock(m);
            else leave_queue(m, &self->waiting);
        }
    } leave{m, self};
    // A wait cut short (thread_abort, a signal handled), or a signal left over from
    // one, is waited again until the mutex is this thread's.
    while (m->holder != self) wait_for(self->handed);
}

void mutex_unlock(mutex_t m) {
    if (!m->held || m->holder != cthread_self()) fatal("mutex_unlock of a mutex the thread does not hold");
    mutex_waiter* w = m->first;
    if (!w) {
        m->holder = NO_CTHREAD;
        m->held = 0;
        return;
    }
    leave_queue(m, w);  // straight to the longest waiting thread: it holds the mutex from now
    m->holder = w->self;
    (void)semaphore_signal(w->self->handed);
}

// --- conditions ------------------------------------------------------------------

condition_t condition_alloc(void) {
    auto* c = new condition;
    condition_init(c);
    return c;
}

void condition_free(condition_t c) {
    condition_clear(c);
    delete c;
}

void condition_init(condition_t c) { *c = CONDITION_INITIALIZER; }

void condition_clear(condition_t c) {
    if (c->waiters > 0) fatal("condition_clear of a condition that threads wait on");
    if (c->sem != MACH_PORT_NULL) (void)semaphore_destroy(mach_task_self(), c->sem);
    c->sem = MACH_PORT_NULL;
}

void condition_set_name(condition_t c, const char* name) { c->name = name; }
const char* condition_name(condition_t c) { return c->name ? c->name : "?"; }

void condition_wait(condition_t c, mutex_t m) {
    if (!m->held || m->holder != cthread_self()) fatal("condition_wait without holding its mutex");
    ensure_semaphore(&c->sem);  // the mutex is held: the state it guards cannot change meanwhile
    ++c->waiters;
    mutex_unlock(m);
    wait_for(c->sem);  // a signal sent since the unlock is counted by the semaphore: none is lost
    mutex_lock(m);
}

void condition_signal(condition_t c) {
    if (c->waiters > 0) {
        --c->waiters;
        (void)semaphore_signal(c->sem);
    }
}

void condition_broadcast(condition_t c) {
    while (c->waiters > 0) {
        --c->waiters;
        (void)semaphore_signal(c->sem);
    }
}

}  // extern "C"

/* C Threads, the threads package of CMU Mach ("Programming under Mach"; the Mach
 * appendix of Operating System Concepts): threads made with cthread_fork, joined
 * with cthread_join, and mutexes and condition variables among the threads of one
 * task. Built on machsim's threads and semaphores (docs/api.md, section 8.3):
 * a thread blocked on a mutex or a condition waits in the kernel, so a deadlock of
 * locks is reported as one, naming the threads and what they wait on. */
#ifndef MACHSIM_CTHREADS_H
#define MACHSIM_CTHREADS_H

#include "mach/mach.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *any_t;
typedef any_t (*cthread_fn_t)(any_t arg);

typedef struct cthread *cthread_t;
#define NO_CTHREAD ((cthread_t)0)

/* A new thread of the calling task running func(arg); NO_CTHREAD if none could be made. */
cthread_t cthread_fork(cthread_fn_t func, any_t arg);
/* Waits for t to end and returns what func returned or cthread_exit was given; t is
 * gone after it. Each thread is joined once, or detached. */
any_t cthread_join(cthread_t t);
/* Nobody will join t: it goes when it ends. */
void cthread_detach(cthread_t t);
/* Ends the calling thread with `result` (its destructors run). In the task's first
 * thread: waits for every thread cthread_fork made, then the task exits with
 * status (int)result. */
void cthread_exit(any_t result) __attribute__((noreturn));
void cthread_yield(void);
cthread_t cthread_self(void);
void cthread_set_name(cthread_t t, const char *name);
const char *cthread_name(cthread_t t);
void cthread_set_data(cthread_t t, any_t data);
any_t cthread_data(cthread_t t);

/* A mutex: initialise a struct mutex with mutex_init (or MUTEX_INITIALIZER), or
 * take one from mutex_alloc. Unlocking a mutex the caller does not hold ends the
 * task (SIGABRT), with a message. */
struct mutex_waiter; /* a waiting thread's place in the queue (in its C Threads record) */
struct mutex {
    int held;
    const char *name;
    cthread_t holder;
    struct mutex_waiter *first, *last; /* the waiting threads, longest waiting first */
};
typedef struct mutex *mutex_t;
#define MUTEX_INITIALIZER {0, 0, NO_CTHREAD, 0, 0}

mutex_t mutex_alloc(void);
void mutex_free(mutex_t m);
void mutex_init(mutex_t m);
void mutex_clear(mutex_t m);
void mutex_set_name(mutex_t m, const char *name);
const char *mutex_name(mutex_t m);
void mutex_lock(mutex_t m);
void mutex_unlock(mutex_t m);
/* TRUE and locked, or FALSE at once when another thread holds it. */
boolean_t mutex_try_lock(mutex_t m);

/* A condition variable, always used with a mutex: condition_wait releases it
 * while it waits and takes it again before it returns. As in C Threads, a woken
 * waiter tests its condition again (a while loop around condition_wait). */
struct condition {
    semaphore_t sem;
    int waiters;
    const char *name;
};
typedef struct condition *condition_t;
#define CONDITION_INITIALIZER {MACH_PORT_NULL, 0, 0}

condition_t condition_alloc(void);
void condition_free(condition_t c);
void condition_init(condition_t c);
void condition_clear(condition_t c);
void condition_set_name(condition_t c, const char *name);
const char *condition_name(condition_t c);
void condition_signal(condition_t c);
void condition_broadcast(condition_t c);
void condition_wait(condition_t c, mutex_t m);

#ifdef __cplusplus
}
#endif

#endif

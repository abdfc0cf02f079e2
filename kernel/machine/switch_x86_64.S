/* machsim_jump_fcontext(to, data): Boost.Context's jump_fcontext (x86_64 System V),
 * frame for frame, so contexts made by make_fcontext and the transfer_t it returns
 * are unchanged. The one difference is the last instruction: Boost resumes the
 * other context with `pop %r8; jmp *%r8`, which leaves this call's entry on the
 * CPU's return-address predictor, so every return the resumed context makes
 * afterwards (out of the scheduler, the wait, the system call, mach_msg) is
 * predicted one frame off and mispredicts. Ending with `ret` pops that entry:
 * the resumed context returns to where it called us from, usually the same
 * call site in Scheduler::switch_to, and its further returns are predicted as
 * well as the two call chains agree.
 *
 * Frame at a context's fcontext_t (as Boost's): 0x00 MXCSR, 0x04 x87 control
 * word, 0x08 r12, 0x10 r13, 0x18 r14, 0x20 r15, 0x28 rbx, 0x30 rbp, 0x38 the
 * address to resume at. Returns transfer_t {rax = the suspended context,
 * rdx = data}; a fresh context's entry gets it as its argument (rdi, rsi). */
    .text
    .p2align 4
    .globl machsim_jump_fcontext
    .type machsim_jump_fcontext, @function
machsim_jump_fcontext:
    .cfi_startproc
    leaq -0x38(%rsp), %rsp          /* the return address is already at 0x38 */
    stmxcsr (%rsp)                  /* the floating-point control words are callee-saved */
    fnstcw 0x4(%rsp)
    movq %r12, 0x8(%rsp)
    movq %r13, 0x10(%rsp)
    movq %r14, 0x18(%rsp)
    movq %r15, 0x20(%rsp)
    movq %rbx, 0x28(%rsp)
    movq %rbp, 0x30(%rsp)
    movq %rsp, %rax                 /* this context, suspended */
    movq %rdi, %rsp                 /* the other one's frame */
    ldmxcsr (%rsp)
    fldcw 0x4(%rsp)
    movq 0x8(%rsp), %r12
    movq 0x10(%rsp), %r13
    movq 0x18(%rsp), %r14
    movq 0x20(%rsp), %r15
    movq 0x28(%rsp), %rbx
    movq 0x30(%rsp), %rbp
    leaq 0x38(%rsp), %rsp
    movq %rsi, %rdx                 /* transfer_t {rax, rdx} */
    movq %rax, %rdi                 /* and, for a fresh context's entry, its argument */
    ret
    .cfi_endproc
    .size machsim_jump_fcontext, .-machsim_jump_fcontext

    .section .note.GNU-stack,"",@progbits

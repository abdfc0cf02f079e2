/* machsim_usercopy(dst, src, n): copies n bytes; returns 0, or -1 if either side
 * faulted. The fault handler (usercopy.cpp) recognises a fault anywhere in
 * [machsim_usercopy_fault_begin, machsim_usercopy_fault_end) and resumes at
 * machsim_usercopy_fixup, so a bad task pointer costs nothing on the normal path.
 * Messages are small: up to 64 bytes move as two to eight overlapping loads and
 * stores (all loads first, so overlapping buffers stay correct), more with rep movsb.
 * A load that spans two stores still in flight cannot take their data (no store
 * forwarding): it waits for them to reach the cache, a stall of a dozen cycles or
 * more. So the loads are never wider than the stores that usually just wrote the
 * bytes: 4 bytes for up to 32 (a small message copied in, its header fields just
 * stored one by one by the task), 8 bytes for 33 to 64 (a message copied out, its
 * header and trailer just written by the kernel in 8-byte words, ports/message.h). */

/* The first 4*w and the last 4*w bytes of the n in %rdx, as eight w-byte pieces
 * (`mov` moves w bytes through an xmm register), all loads before all stores. */
.macro COPY_ENDS mov, w
    \mov (%rsi), %xmm0
    \mov \w(%rsi), %xmm1
    \mov 2*\w(%rsi), %xmm2
    \mov 3*\w(%rsi), %xmm3
    \mov -4*\w(%rsi,%rdx), %xmm4
    \mov -3*\w(%rsi,%rdx), %xmm5
    \mov -2*\w(%rsi,%rdx), %xmm6
    \mov -\w(%rsi,%rdx), %xmm7
    \mov %xmm0, (%rdi)
    \mov %xmm1, \w(%rdi)
    \mov %xmm2, 2*\w(%rdi)
    \mov %xmm3, 3*\w(%rdi)
    \mov %xmm4, -4*\w(%rdi,%rdx)
    \mov %xmm5, -3*\w(%rdi,%rdx)
    \mov %xmm6, -2*\w(%rdi,%rdx)
    \mov %xmm7, -\w(%rdi,%rdx)
    xorl %eax, %eax
    ret
.endm

    .text
    .p2align 4
    .globl machsim_usercopy
    .type machsim_usercopy, @function
machsim_usercopy:
    .cfi_startproc
    .globl machsim_usercopy_fault_begin
machsim_usercopy_fault_begin:
    cmpq $16, %rdx
    ja .Lover16
    cmpq $8, %rdx
    jb .Lunder8
    movq (%rsi), %rax               /* 8..16 bytes: first and last word */
    movq -8(%rsi,%rdx), %rcx
    movq %rax, (%rdi)
    movq %rcx, -8(%rdi,%rdx)
    xorl %eax, %eax
    ret
.Lunder8:
    testq %rdx, %rdx
    jz .Ldone
.Lbytes:
    movzbl (%rsi), %eax
    movb %al, (%rdi)
    incq %rsi
    incq %rdi
    decq %rdx
    jnz .Lbytes
.Ldone:
    xorl %eax, %eax
    ret
.Lover16:
    cmpq $32, %rdx
    ja .Lover32
    /* 17..32 bytes: a small message copied in, whose header fields the task has
     * just stored one by one */
    COPY_ENDS movd, 4
.Lover32:
    cmpq $64, %rdx
    ja .Lbulk
    COPY_ENDS movq, 8               /* 33..64 bytes: a message copied out */
.Lbulk:
    movq %rdx, %rcx
    rep movsb
    xorl %eax, %eax
    ret
    .globl machsim_usercopy_fault_end
machsim_usercopy_fault_end:
    .globl machsim_usercopy_fixup
machsim_usercopy_fixup:
    movl $-1, %eax
    ret
    .cfi_endproc
    .size machsim_usercopy, .-machsim_usercopy

    .section .note.GNU-stack,"",@progbits

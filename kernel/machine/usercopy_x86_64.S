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
    movd (%rsi), %xmm0              /* 17..32 bytes: first 16 and last 16, in 4-byte */
    movd 4(%rsi), %xmm1             /* pieces: a small message copied in, whose header */
    movd 8(%rsi), %xmm2             /* fields the task has just stored one by one */
    movd 12(%rsi), %xmm3
    movd -16(%rsi,%rdx), %xmm4
    movd -12(%rsi,%rdx), %xmm5
    movd -8(%rsi,%rdx), %xmm6
    movd -4(%rsi,%rdx), %xmm7
    movd %xmm0, (%rdi)
    movd %xmm1, 4(%rdi)
    movd %xmm2, 8(%rdi)
    movd %xmm3, 12(%rdi)
    movd %xmm4, -16(%rdi,%rdx)
    movd %xmm5, -12(%rdi,%rdx)
    movd %xmm6, -8(%rdi,%rdx)
    movd %xmm7, -4(%rdi,%rdx)
    xorl %eax, %eax
    ret
.Lover32:
    cmpq $64, %rdx
    ja .Lbulk
    movq (%rsi), %xmm0              /* 33..64 bytes: first 32 and last 32, in words */
    movq 8(%rsi), %xmm1
    movq 16(%rsi), %xmm2
    movq 24(%rsi), %xmm3
    movq -32(%rsi,%rdx), %xmm4
    movq -24(%rsi,%rdx), %xmm5
    movq -16(%rsi,%rdx), %xmm6
    movq -8(%rsi,%rdx), %xmm7
    movq %xmm0, (%rdi)
    movq %xmm1, 8(%rdi)
    movq %xmm2, 16(%rdi)
    movq %xmm3, 24(%rdi)
    movq %xmm4, -32(%rdi,%rdx)
    movq %xmm5, -24(%rdi,%rdx)
    movq %xmm6, -16(%rdi,%rdx)
    movq %xmm7, -8(%rdi,%rdx)
    xorl %eax, %eax
    ret
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

/* machsim_usercopy(dst, src, n): copies n bytes; returns 0, or -1 if either side
 * faulted. The fault handler (usercopy.cpp) recognises a fault anywhere in
 * [machsim_usercopy_fault_begin, machsim_usercopy_fault_end) and resumes at
 * machsim_usercopy_fixup, so a bad task pointer costs nothing on the normal path.
 * Messages are small: up to 64 bytes move as two to eight overlapping loads and
 * stores (all loads first, so overlapping buffers stay correct), more with rep movsb. */
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
    movdqu (%rsi), %xmm0            /* 17..32 bytes: first and last 16 */
    movdqu -16(%rsi,%rdx), %xmm1
    movdqu %xmm0, (%rdi)
    movdqu %xmm1, -16(%rdi,%rdx)
    xorl %eax, %eax
    ret
.Lover32:
    cmpq $64, %rdx
    ja .Lbulk
    movdqu (%rsi), %xmm0            /* 33..64 bytes: first 32 and last 32 */
    movdqu 16(%rsi), %xmm1
    movdqu -32(%rsi,%rdx), %xmm2
    movdqu -16(%rsi,%rdx), %xmm3
    movdqu %xmm0, (%rdi)
    movdqu %xmm1, 16(%rdi)
    movdqu %xmm2, -32(%rdi,%rdx)
    movdqu %xmm3, -16(%rdi,%rdx)
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

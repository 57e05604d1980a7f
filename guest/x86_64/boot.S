/*
 * bareusb QEMU test image: multiboot1 entry.
 *
 * QEMU's -kernel loads a multiboot1 ELF32 image (this file's ELF64 output is
 * converted with objcopy) and jumps to _start in 32-bit protected mode with
 * EAX = 0x2BADB002 and EBX = the multiboot information. We zero .bss, build
 * identity page tables for the first 4 GiB with 2 MiB pages (the C side adds
 * more for 64-bit BARs above 4 GiB), enter long mode and call guest_start()
 * (start.c).
 */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* bit 0: page-align modules, bit 1: memory info */

#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)

#define PTE_P 0x001
#define PTE_RW 0x002
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS 0x080

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

/* ------------------------------------------------------------------------ */
/* 32-bit entry                                                             */

	.section .text.boot, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	movl %eax, %esi                 /* keep the multiboot magic ... */
	movl %ebx, %ebp                 /* ... and information pointer */

	/* Zero .bss (page tables and the stack live there). */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	xorl %eax, %eax
	rep stosl

	movl %esi, boot_mb_magic
	movl %ebp, boot_mb_info

	/* Long mode available? (CPUID 0x80000001 EDX bit 29) */
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_long_mode
	movl $0x80000001, %eax
	cpuid
	testl $(1 << 29), %edx
	jz no_long_mode

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories. */
	movl $boot_pdpt, %eax
	orl $(PTE_P | PTE_RW), %eax
	movl %eax, boot_pml4
	movl $boot_pd, %eax
	orl $(PTE_P | PTE_RW), %eax
	movl $boot_pdpt, %edi
	movl $4, %ecx
1:	movl %eax, (%edi)
	addl $4096, %eax
	addl $8, %edi
	loop 1b

	/* 2048 2 MiB pages: 0 .. 4 GiB; the top GiB (MMIO) uncached. */
	movl $boot_pd, %edi
	xorl %ebx, %ebx                 /* page number */
2:	movl %ebx, %eax
	shll $21, %eax
	orl $(PTE_P | PTE_RW | PTE_PS), %eax
	cmpl $1536, %ebx
	jb 3f
	orl $(PTE_PCD | PTE_PWT), %eax
3:	movl %eax, (%edi)
	movl $0, 4(%edi)
	addl $8, %edi
	incl %ebx
	cmpl $2048, %ebx
	jb 2b

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PG, %eax
	movl %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $0x08, $long_entry

no_long_mode:
	/* No way to report much: fail through isa-debug-exit. */
	movw $0xf4, %dx
	movl $0x12, %eax
	outl %eax, %dx
4:	hlt
	jmp 4b

/* ------------------------------------------------------------------------ */
/* 64-bit entry                                                             */

	.code64
long_entry:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	movq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	movl boot_mb_magic, %edi
	movl boot_mb_info, %esi
	call guest_start
5:	cli
	hlt
	jmp 5b

/* ------------------------------------------------------------------------ */
/* The general registers as struct exc_frame (cpu.c) lays them out.         */

	.macro save_regs
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	.endm

	.macro restore_regs
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	.endm

/* ------------------------------------------------------------------------ */
/* Exception entry stubs: push a dummy error code where the CPU pushes none, */
/* then the vector, save registers, call guest_exception(frame).            */

	.macro isr_noerr vec
	.globl isr_\vec
isr_\vec:
	pushq $0
	pushq $\vec
	jmp isr_common
	.endm

	.macro isr_err vec
	.globl isr_\vec
isr_\vec:
	pushq $\vec
	jmp isr_common
	.endm

	isr_noerr 0
	isr_noerr 1
	isr_noerr 2
	isr_noerr 3
	isr_noerr 4
	isr_noerr 5
	isr_noerr 6
	isr_noerr 7
	isr_err 8
	isr_noerr 9
	isr_err 10
	isr_err 11
	isr_err 12
	isr_err 13
	isr_err 14
	isr_noerr 15
	isr_noerr 16
	isr_err 17
	isr_noerr 18
	isr_noerr 19
	isr_noerr 20
	isr_err 21
	isr_noerr 22
	isr_noerr 23
	isr_noerr 24
	isr_noerr 25
	isr_noerr 26
	isr_noerr 27
	isr_noerr 28
	isr_err 29
	isr_err 30
	isr_noerr 31

isr_common:
	save_regs
	movq %rsp, %rdi
	andq $-16, %rsp
	call guest_exception
6:	cli
	hlt
	jmp 6b

/* ------------------------------------------------------------------------ */
/* Interrupt entry stubs (irq_x86.c): push the vector, save the registers,  */
/* call guest_irq_dispatch(vector) on a 16-byte aligned stack (rbx keeps     */
/* the frame), restore, return. Interrupts are enabled only around hlt.     */

	.macro irq_stub vec
	.globl irq_\vec
irq_\vec:
	pushq $\vec
	jmp irq_common
	.endm

	.irp v, 64,65,66,67,68,69,70,71,72,255
	irq_stub \v
	.endr

irq_common:
	save_regs
	movq 120(%rsp), %rdi
	movq %rsp, %rbx
	andq $-16, %rsp
	cld
	call guest_irq_dispatch
	movq %rbx, %rsp
	restore_regs
	addq $8, %rsp
	iretq

	.section .rodata
	.balign 8
	.globl isr_table
isr_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad isr_\n
	.endr
	.globl irq_table
irq_table:
	.irp n, 64,65,66,67,68,69,70,71,72,255
	.quad irq_\n
	.endr

/* ------------------------------------------------------------------------ */
/* Data                                                                     */

	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF        /* 0x08: 64-bit code */
	.quad 0x00CF92000000FFFF        /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt

	.section .bss
	.balign 4096
	.globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd:
	.skip 4 * 4096
	.balign 16
boot_stack:
	.skip 256 * 1024
boot_stack_top:
	.globl boot_mb_magic, boot_mb_info
boot_mb_magic:
	.skip 4
boot_mb_info:
	.skip 4

	.section .note.GNU-stack, "", @progbits

/*
 * Entry point: QEMU's -kernel (or GRUB's multiboot) loads this ELF at
 * 1 MiB and jumps here in 32-bit protected mode with paging off
 * (Multiboot Specification 0.6.96, "Machine state"). Set a stack, run
 * kmain, and stop.
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0
	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	call kmain
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.skip 32768
stack_top:

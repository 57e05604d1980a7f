/*
 * The C side of the x86_64 start-up: boot.S arrives here in long mode with
 * what the multiboot loader left in EAX and EBX (Multiboot Specification
 * 0.6.96 §3.2 "Machine state", §3.3 "Boot information format").
 */
#include "guest.h"

#define MB_BOOTLOADER_MAGIC 0x2badb002u
#define MB_INFO_MEMORY	    0x001u
#define MB_INFO_CMDLINE	    0x004u
#define MB_INFO_MODS	    0x008u

/** The multiboot command line without its first word (the image name). */
static const char *skip_image_name(const char *s)
{
	while (*s == ' ')
		s++;
	while (*s && *s != ' ')
		s++;
	while (*s == ' ')
		s++;
	return s;
}

void guest_start(uint32_t magic, uint32_t mbi)
{
	const uint32_t *info = (const uint32_t *)(uintptr_t)mbi;
	struct guest_boot boot = {NULL, 0, NULL, NULL, 0};

	console_init();
	idt_init();
	if (magic != MB_BOOTLOADER_MAGIC || !mbi) {
		boot.error = "not started by a multiboot loader";
		guest_main(&boot);
	}
	if (info[0] & MB_INFO_CMDLINE)
		boot.cmdline =
		    skip_image_name((const char *)(uintptr_t)info[4]);
	/* mem_upper: KiB of RAM from 1 MiB up to the first hole. */
	if (info[0] & MB_INFO_MEMORY)
		boot.ram_top = 0x100000ull + (uint64_t)info[2] * 1024;
	/* The first module (QEMU -initrd; runner.py --inf) is the boot INF:
	 * mods_count, mods_addr -> { mod_start, mod_end, string, reserved }. */
	if ((info[0] & MB_INFO_MODS) && info[5] > 0) {
		const uint32_t *mod = (const uint32_t *)(uintptr_t)info[6];

		if (mod[1] > mod[0]) {
			boot.inf = (const char *)(uintptr_t)mod[0];
			boot.inf_len = mod[1] - mod[0];
		}
	}
	guest_main(&boot);
}

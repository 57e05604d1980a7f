/*
 * bareusb QEMU test image: internal interfaces of guest/.
 *
 * One image per architecture, from the same architecture-independent code
 * (main.c and the tests, the console's formatting, the arena, the platform
 * table, PCI discovery) and a directory of architecture code each:
 *
 *   guest/x86_64/   a multiboot1 kernel for `qemu-system-x86_64 -M q35`:
 *                   long mode, COM1, HPET/TSC, PCI through 0xCF8/0xCFC,
 *                   exit through isa-debug-exit
 *   guest/aarch64/  an ELF for `qemu-system-aarch64 -M virt`: EL1 with the
 *                   MMU on, PL011, the generic timer, PCIe through ECAM
 *                   (BARs assigned here: no firmware), exit through
 *                   semihosting (PSCI SYSTEM_OFF without it)
 *
 * Each architecture's start-up code leaves the CPU identity mapped
 * (virtual = physical = bus address), fills a struct guest_boot and calls
 * guest_main(). Everything runs with interrupts off and the USB stack is
 * polled, except that with `irq` each controller's MSI is taken (its
 * handler only acknowledges it) and the image sleeps in
 * guest_wait_for_interrupt between polls. The functions below marked
 * "(arch)" are the architecture's.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bareusb/platform.h"

#include "guest_arch.h" /* guest/<arch>/: inline CPU and MMIO helpers */

/* The memory routines of libc.c (the compiler may call them too). */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* ------------------------------------------------------------------------ */
/* Exit: QEMU's exit status is (value << 1) | 1 on every architecture      */

#define GUEST_EXIT_PASS	 0x10 /**< QEMU exit status 33 */
#define GUEST_EXIT_FAIL	 0x11 /**< QEMU exit status 35 */
#define GUEST_EXIT_PANIC 0x12 /**< QEMU exit status 37 */

/** Leave QEMU with `code` (one of GUEST_EXIT_*); never returns. (arch) */
__attribute__((noreturn)) void guest_exit(uint32_t code);
/** Print "Bail out! <msg>" and exit with GUEST_EXIT_PANIC. */
__attribute__((noreturn, format(printf, 1, 2))) void
guest_panic(const char *fmt, ...);

/* ------------------------------------------------------------------------ */
/* Console (the architecture's UART, 115200 8N1, polled)                   */

/** Program the UART. Output works before this too on QEMU. (arch) */
void console_init(void);
/** Send one byte once the transmitter has room (bounded wait). (arch) */
void console_putc(char c);
/** One received byte, or -1 when none is waiting (never waits). (arch) */
int console_getc(void);
/**
 * The capture line (guest word `usbmon`): a second serial port carrying
 * binary usbmon records, which the runner turns into a pcap (--pcap).
 * False when the machine has none. (arch)
 */
bool capture_init(void);
/** Write raw bytes to the capture line (bounded waits). (arch) */
void capture_write(const void *p, size_t n);
/** Write raw bytes; "\n" becomes "\r\n". */
void console_write(const char *s, size_t n);
/** Formatted output (the library's snprintf subset). */
__attribute__((format(printf, 1, 2))) void kprintf(const char *fmt, ...);
/** va_list flavour of kprintf. */
void kvprintf(const char *fmt, va_list ap);
/** Write a string followed by a newline (any length). */
void kputs_line(const char *s);

/** Lines at or below this level are printed (default BU_LOG_INFO). */
extern int guest_log_level;
/** Prefix log lines with the guest clock in ms (`logtime`). */
extern bool guest_log_time;
/** Keep log lines (timed) in memory until guest_log_flush (`logbuf`). */
extern bool guest_log_buffered;
/** Print and drop the lines kept while guest_log_buffered. */
void guest_log_flush(void);
/** Print one log line with a level prefix. */
void guest_log(enum bu_log_level level, const char *line);
/** Formatted guest_log. */
__attribute__((format(printf, 2, 3))) void glog(enum bu_log_level level,
						const char *fmt, ...);

/** Print one TAP result ("ok N - ..." / "not ok N - ..."); returns `ok`. */
__attribute__((format(printf, 2, 3))) bool tap(bool ok, const char *fmt, ...);
/** Print the plan line "1..N" for the results so far. */
void tap_plan(void);
/** Print the plan and exit QEMU with pass (no failures) or fail. */
__attribute__((noreturn)) void tap_finish(void);

/* ------------------------------------------------------------------------ */
/* Paging                                                                   */

/**
 * Make [phys, phys + size) reachable, identity-mapped and uncached (device
 * memory). Returns false when the page-table pool is exhausted or the range
 * cannot be mapped so. (arch)
 */
bool paging_map_mmio(uint64_t phys, uint64_t size);

/* ------------------------------------------------------------------------ */
/* Clock                                                                    */

/**
 * Find and start a clock source; `prefer` (the `clock=` word, may be NULL)
 * names one the architecture offers (x86_64: `tsc`). (arch)
 */
void clock_init(const char *prefer);
/** Monotonic microseconds since clock_init. */
uint64_t clock_now_us(void);
/** Busy-wait `us` microseconds. */
void clock_delay_us(uint64_t us);
/** Name of the clock source in use ("hpet", "tsc", "cntvct"). */
const char *clock_source(void);
/** Source frequency in kHz (for the boot banner). */
uint64_t clock_khz(void);

/* ------------------------------------------------------------------------ */
/* Memory arena (DMA and objects; identity mapped so bus == physical)       */

/** Hand [base, base + size) to the allocator. */
void arena_init(uintptr_t base, size_t size);
/**
 * Allocate `size` zeroed bytes aligned to `align` (power of two, 0 = 64)
 * not crossing a `boundary` (power of two, 0 = none). NULL when out of room.
 */
void *arena_alloc(size_t size, size_t align, size_t boundary);
/** Give back memory from arena_alloc; `size` as asked for. */
void arena_free(void *ptr, size_t size);
/** Bytes currently allocated (rounded to the arena granule). */
size_t arena_in_use(void);
/** Bytes in the arena. */
size_t arena_size(void);
/** Largest number of free extents seen (fragmentation indicator). */
unsigned arena_extents(void);
/** Free extents right now (1 when nothing is allocated). */
unsigned arena_free_extents(void);
/** True when `p` lies inside the arena. */
bool arena_contains(const void *p, size_t len);

/* ------------------------------------------------------------------------ */
/* PCI (configuration access is the architecture's; the rest is pci.c)     */

struct pci_func {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint32_t
	    class_rev; /**< class << 24 | subclass << 16 | prog-if << 8 | rev */
};

/** Read a config dword (all ones where no function answers). (arch) */
uint32_t pci_read32(const struct pci_func *f, uint8_t off);
/** Write a config dword. (arch) */
void pci_write32(const struct pci_func *f, uint8_t off, uint32_t v);
/** Read a config word. */
uint16_t pci_read16(const struct pci_func *f, uint8_t off);
/** Write a config word. */
void pci_write16(const struct pci_func *f, uint8_t off, uint16_t v);
/**
 * Get PCI ready for pci_scan: find the configuration space, assign what no
 * firmware assigned. Returns false when there is no PCI. (arch)
 */
bool pci_arch_init(void);
/**
 * Scan every bus, device and function; store up to `max` functions in
 * discovery order. Returns how many exist (may exceed max).
 */
unsigned pci_scan(struct pci_func *out, unsigned max);
/**
 * Decode BAR `bar` (memory, 32- or 64-bit): base in *base, size in *size.
 * Returns false for I/O or unassigned BARs.
 */
bool pci_bar_mem(const struct pci_func *f, unsigned bar, uint64_t *base,
		 uint64_t *size);
/** Set memory-space and bus-master enable, disable INTx. */
void pci_enable_mmio_dma(const struct pci_func *f);
/**
 * Program and enable `f`'s MSI capability: one message, writing `data` to
 * `addr`; without MSI, MSI-X table entry 0 (its BAR mapped already). False
 * when `f` has neither (or MSI with only 32-bit addresses and `addr` is
 * above 4 GiB).
 */
bool pci_msi_enable(const struct pci_func *f, uint64_t addr, uint16_t data);
/** Format "0000:BB:DD.F" into buf[16]. */
void pci_name(const struct pci_func *f, char buf[16]);

struct bu_xhci_pci;
/**
 * Fill a bu_xhci_options.pci from function `f` (which must outlive the
 * controller): identity, subsystem, and config accessors through pci_read32.
 */
void pci_xhci_identity(const struct pci_func *f, struct bu_xhci_pci *out);

/* ------------------------------------------------------------------------ */
/* Interrupts (arch)                                                        */

/**
 * Have PCI function `f` signal its interrupts by MSI to `fn(ctx)`, which
 * then runs in interrupt context: registers only (bu_xhci_irq), no output.
 * Interrupts are on from then on (on x86_64: taken only inside
 * guest_wait_for_interrupt). False when the architecture's image cannot:
 * the caller keeps polling.
 */
bool guest_irq_attach_msi(const struct pci_func *f, void (*fn)(void *ctx),
			  void *ctx);
/**
 * Sleep until an interrupt arrives or the guest clock reaches
 * `deadline_us`, whichever is first; may return early. Without interrupts
 * it returns at once.
 */
void guest_wait_for_interrupt(uint64_t deadline_us);

/* ------------------------------------------------------------------------ */
/* Kernel command line (QEMU -append, as the boot loader hands it over)     */

/** Split a copy of the command line (the -append text) into words. */
void cmdline_parse(const char *s);
/** True when the word `key` or `key=...` is present. */
bool cmdline_has(const char *key);
/** Value of `key=value`, or NULL. */
const char *cmdline_get(const char *key);
/** Numeric value of `key=` (decimal or 0x hex), or `def`. */
uint64_t cmdline_get_u64(const char *key, uint64_t def);
/** The raw command line after the image name. */
const char *cmdline_raw(void);

/* ------------------------------------------------------------------------ */
/* The bareusb platform table                                               */

/** The guest's struct bu_platform (one, shared by every controller). */
extern const struct bu_platform guest_platform;
/** Bytes the library holds through dma_alloc right now. */
size_t guest_dma_in_use(void);
/** Bytes the library holds through alloc right now. */
size_t guest_obj_in_use(void);

/** `selftest`: check arena, DMA table, clock, PCI and paging (TAP). */
void guest_selftest(void);
/**
 * Locate xHCI controller `i` (after find_controllers): BAR0 decode, move it
 * high when `bar_high=` asks, map it, enable it. Returns its register base
 * or 0 after reporting a failed TAP test.
 */
uintptr_t guest_prepare_controller(unsigned i);
/** Number of xHCI controllers found on PCI. */
unsigned guest_controller_count(void);
struct bu_usb_bus;
/** The bus of controller `i`, NULL when it is not running (or i too big). */
struct bu_usb_bus *guest_bus(unsigned i);
/**
 * `console`: the debug console (shell.c): read commands on the serial
 * line and answer them, polling every bus meanwhile, until `exit`.
 */
void guest_shell(void);

struct bu_usb_bus;
struct bu_usb_device;
/** "3.2" style path of a device (root port, then hub ports). */
void guest_dev_path(const struct bu_usb_device *dev, char *buf, size_t size);
/** `xferload`: register the transfer-load test driver on a bus. */
int xferload_register(struct bu_usb_bus *bus);

/** What the architecture's start-up code learned about the machine. */
struct guest_boot {
	const char *cmdline; /**< the -append text (no image name), or NULL */
	uint64_t ram_top;    /**< end of the RAM the image is in; 0: unknown */
	const char *error;   /**< not started as expected: why; else NULL */
	/** An INF the loader brought (x86_64: the first multiboot module,
	 *  runner.py --inf), or NULL; copied by guest_main before use. */
	const char *inf;
	size_t inf_len;
};

/** The INF the image was booted with (a copy), or NULL; its length in *len. */
const char *guest_inf(size_t *len);

/**
 * The architecture-independent image, called once the console, exception
 * handlers and identity mapping are up; never returns.
 */
__attribute__((noreturn)) void guest_main(const struct guest_boot *boot);

/** `suspendtest`: suspend and resume every device on a root port (suspendtest.c). */
struct bu_usb_bus;
void guest_suspendtest(struct bu_usb_bus *bus);

/* `autosuspend=MS` (with `watch`): pmwatch.c. */
struct bu_usb_device;
/** Read autosuspend= and pmpoke= from the command line. */
void guest_pm_init(void);
/** True with autosuspend= on the command line. */
bool guest_pm_enabled(void);
/** Keep HID reads pending, suspend idle devices, poke once: from the watch loop. */
void guest_pm_poll(struct bu_usb_bus *bus);
/**
 * The guest clock's time (us) at which guest_pm_poll next has work on
 * `bus`: an idle device's suspend, a failed read's retry, the poke.
 * UINT64_MAX when none; an `irq` sleep must end by then.
 */
uint64_t guest_pm_next_deadline(const struct bu_usb_bus *bus);
/** bu_usb_bus_events.power_changed: prints the usbpm line. */
void guest_pm_power(void *ctx, struct bu_usb_device *dev, bool suspended, bool by_device);
/** The device is going: its slot is freed once its transfers are back. */
void guest_pm_forget(const struct bu_usb_device *dev);

/* System sleep of a bus (sleep.c, the console's `sleep`). */
/** bu_usb_bus_events.device_resumed: prints the device's usbsleep line. */
void guest_sleep_resumed(void *ctx, struct bu_usb_device *dev, int how);
/**
 * Suspend the bus, sleep `ms` (with `wake`: boot keyboards may wake it,
 * and a wake ends the sleep early), resume, let it settle, print the
 * controller's usbsleep line. 0, or the suspend's or resume's error.
 */
int guest_sleep(struct bu_usb_bus *bus, unsigned ms, bool wake);

#endif

/*
 * The test image's WinUSB end-to-end tests (guest/winusb_test.c), selected
 * with `winusb=storage|serial|kbd|audio|mtp|bench` on the kernel command
 * line, bindings with `winusb.bind=VID:PID[:IFACE][:{GUID}][,...]`.
 */
#ifndef GUEST_WINUSB_TEST_H
#define GUEST_WINUSB_TEST_H

struct bu_usb_bus;

/** Create the WinUSB driver part on a bus, with the command line's bindings. */
void guest_winusb_attach(struct bu_usb_bus *bus);

/** Run the selected WinUSB test (after the buses settled); prints TAP. */
void guest_winusb_run(void);

#endif

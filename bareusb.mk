# bareusb for Makefile users: include this file, then compile
# $(BAREUSB_SRCS) with $(BAREUSB_CFLAGS) added to your kernel's own flags
# and link the objects into your kernel (docs/embedding.md, "The Makefile
# route"). Set BAREUSB_DIR to where bareusb lives before including it;
# by default it is the directory of this file.
#
#   BAREUSB_DIR := path/to/bareusb
#   include $(BAREUSB_DIR)/bareusb.mk
#   OBJS += $(BAREUSB_SRCS:.c=.o)
#   CFLAGS += $(BAREUSB_CFLAGS)
#
# The list is the library's Meson sources (core/, hcd/, winusb/
# meson.build); the checks suite fails when the two differ.

BAREUSB_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

BAREUSB_CORE_SRCS := \
	core/bus.c \
	core/enum.c \
	core/driver.c \
	core/lookup.c \
	core/hub.c \
	core/pm.c \
	core/sleep.c \
	core/port.c \
	core/request.c \
	core/errors.c \
	core/util.c \
	core/tt.c \
	core/timeline.c \
	core/toggle.c \
	core/desc.c \
	core/setup_name.c \
	core/usbmon.c \
	core/json.c \
	core/msos.c

BAREUSB_HCD_SRCS := \
	hcd/xhci.c \
	hcd/xhci_cmd.c \
	hcd/xhci_dev.c \
	hcd/xhci_port.c \
	hcd/xhci_pm.c \
	hcd/xhci_quirks.c \
	hcd/xhci_xfer.c \
	hcd/xhci_dump.c \
	hcd/xhci_ring.c \
	hcd/xhci_trace.c

BAREUSB_WINUSB_SRCS := \
	winusb/winusb_policy.c \
	winusb/winusb_func.c \
	winusb/winusb_bind.c \
	winusb/winusb_inf.c \
	winusb/winusb_pipe.c \
	winusb/winusb_isoch.c \
	winusb/winusb_ctrl.c \
	winusb/winusb_power.c \
	winusb/winusb_ioctl.c \
	winusb/winusb_api.c

BAREUSB_SRCS := $(addprefix $(BAREUSB_DIR)/,$(BAREUSB_CORE_SRCS) $(BAREUSB_HCD_SRCS) \
	$(BAREUSB_WINUSB_SRCS))

# Include paths and the flags the library needs whatever the kernel's own:
# freestanding C11, no common symbols, no strict-aliasing assumptions.
BAREUSB_CFLAGS := -std=c11 -ffreestanding -fno-common -fno-strict-aliasing \
	-I$(BAREUSB_DIR)/include

# `make -f bareusb.mk bareusb-print-srcs`: the list, one a line (the checks
# suite uses it). Including this file leaves the includer's default goal
# alone: without the save and restore, this rule would become it.
bareusb_saved_goal := $(.DEFAULT_GOAL)
.PHONY: bareusb-print-srcs
bareusb-print-srcs:
	@printf '%s\n' $(BAREUSB_SRCS)
.DEFAULT_GOAL := $(bareusb_saved_goal)

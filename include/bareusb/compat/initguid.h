/*
 * <initguid.h> for programs written for Windows: from here on DEFINE_GUID
 * defines the GUIDs it names (one translation unit of the program does
 * this), as Windows' initguid.h makes it do.
 */
#ifndef INITGUID
#define INITGUID
#endif
#include "guiddef.h"

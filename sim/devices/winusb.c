#include "devices.h"

/* arena.c - placeholder until its allocator lands. */
#include "internal.h"

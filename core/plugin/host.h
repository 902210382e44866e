/*
 * host.h — fills the struct sylk_host function table handed to plugins. Main thread.
 */
#ifndef SYLK_HOST_IMPL_H
#define SYLK_HOST_IMPL_H

#include <sylk/host.h>

void sylk_host_fill(struct sylk_host *host);

#endif

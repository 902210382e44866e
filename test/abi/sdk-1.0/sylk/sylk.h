/*
 * sylk/sylk.h — everything a sylkserver plugin includes.
 */
#ifndef SYLK_SYLK_H
#define SYLK_SYLK_H

#include <sylk/host.h>
#include <sylk/plugin.h>
#include <sylk/types.h>

#endif /* SYLK_SYLK_H */

/*
 * screen.h — screen sharing in a room, as Blink does it: a participant sends JPEG screenshots
 * as chat messages of type application/blink-screensharing (raw or base64), and the server's
 * web endpoint serves the latest one at an unguessable URL with a viewer page. The URL is in
 * the sharer's conference-info user element (agp-conf:screen_image_url) and in a chat notice;
 * sharing stops after screen_sharing_timeout seconds without an image or when the sharer
 * leaves (its URL then answers 404).
 *
 * Thread: main thread.
 */
#ifndef CONF_SCREEN_H
#define CONF_SCREEN_H

#include "room.h"

#define SCREEN_SHARING_TYPE "application/blink-screensharing"

/**
 * A screen image from `p`: 200 taken, 415 not a JPEG, 413 larger than the limit, 503 no web
 * server. Not relayed in the chat.
 */
int screen_image(struct participant *p, const void *body, size_t len);
/** The viewer URL of a participant's shared screen, or NULL. */
const char *screen_url(const struct participant *p);
/** The participant leaves (or its chat goes): its sharing stops. */
void screen_stop(struct participant *p, bool notify);

/** The image carried by a screen-sharing payload (raw JPEG or base64 of one), or NULL. */
GBytes *screen_decode(const void *body, size_t len);

#endif

/*
 * files.h — files shared in a room (RFC 5547 over MSRP): uploads (push), downloads by late
 * joiners (pull), the room's file store on disk, and the optional push of each new file to
 * every other participant.
 *
 * A room's files live in <files_dir>/<room>/files/, a folder made by the room's first upload
 * and removed with the room when nothing is kept in it. An upload is written under a temporary
 * name (.upload-*) and published only when its size and SHA-1 match the offer: its metadata
 * goes to .meta/<name>.ini first, then the data is renamed into place, so that a crash at any
 * point leaves no listed file that is incomplete. A room re-created after a restart lists the
 * files whose data and metadata are both there (keep_files), and removes leftovers.
 *
 * Thread: main thread.
 */
#ifndef CONF_FILES_H
#define CONF_FILES_H

#include "room.h"

struct room_file {
    char *name;        /* stored name: sanitized, unique in the room */
    char *hash;        /* "AB:CD:…", SHA-1 as RFC 5547 writes it */
    char *sender;      /* sip:user@host */
    char *sender_name; /* the sender's name in the room when it uploaded, or NULL */
    char *type;        /* MIME type */
    uint64_t size;
    char *path;
};

/** Loads the room's stored files (keep_files) and removes incomplete uploads. */
void files_room_open(struct room *room);
/**
 * The room ends: transfers stop; its files are removed unless keep_files, and its folders with
 * them when they are left empty.
 */
void files_room_close(struct room *room);

/**
 * An INVITE whose streams are file transfers (the caller checked the room exists and the
 * sender may use it): an upload (the peer sendonly) or a download (recvonly) of a stored
 * file. Answers or rejects the session.
 */
void files_incoming_session(struct room *room, sylk_session *session, sylk_stream *stream,
                            const struct sylk_request_info *req);

/**
 * The name a file is stored under: its last path component, without control characters,
 * quotes or colons, not starting with a dot or space, at most 200 bytes of UTF-8; "file" when
 * nothing is left.
 */
char *files_sanitize_name(const char *offered);

/** Frees a published file's description. */
void room_file_free(struct room_file *f);

#endif

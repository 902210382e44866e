/*
 * room.h — the conference plugin's rooms: participants (one per SIP session), the room's audio
 * mixer, its chat history, its conference-info subscribers, and the notices the room sends.
 *
 * A room exists from the first INVITE to its URI until its last participant leaves; it then
 * ends its subscriptions and frees everything.
 *
 * Thread: main thread (plugin callbacks).
 */
#ifndef CONF_ROOM_H
#define CONF_ROOM_H

#include <glib.h>
#include <stdbool.h>
#include <sylk/sylk.h>

#define CONF_NAME          "conference"
#define CONF_UNSIZED_LIMIT (16u << 20) /* the core's cap on a file offered without a size */

struct conf_settings {
    long history_size;           /* public messages kept for newcomers */
    const char *web_page;        /* host-info/web-page, or NULL */
    const char *music_on_hold;   /* WAV played, looping, to an audio participant alone */
    char *files_dir;             /* rooms' shared files: <files_dir>/<room>/files */
    uint64_t max_file_size;      /* bytes, 0: no limit */
    uint64_t room_quota;         /* bytes of files per room, 0: no limit */
    bool keep_files;             /* files outlive their room (and a restart) */
    bool push_file_transfer;     /* each new file is offered to every other participant */
    long screen_sharing_timeout; /* seconds without an image that end a screen sharing */
    size_t max_screen_image;     /* bytes */
    bool save_screen_images;     /* the latest image of each sharer also on disk */
};

struct room;

struct participant {
    struct room *room;
    sylk_session *session;
    char *uri;      /* identity: the From URI, "sip:alice@example.com" */
    char *key;      /* user@host, lower case: what CPIM addresses are compared with */
    char *display;  /* From display name, or NULL */
    char *nickname; /* RFC 7701, or NULL */
    char *contact;  /* endpoint entity */
    sylk_stream *audio, *chat;
    gint64 joined_us;
    char *joined_at; /* xs:dateTime */
    bool established;
    bool dialout;             /* the room is calling it (REFER): dialing-out, then alerting */
    bool called;              /* the room called it: its joining-method is dialed-out */
    bool alerting;            /* a dial-out that rang */
    bool mixed;               /* its audio is in the room's mixer */
    bool held;                /* put on hold by the peer: out of the mix */
    bool moh;                 /* music on hold plays to it */
    bool had_audio, had_chat; /* the media the last notice told the room about */
    sylk_referral *referral;  /* the REFER that brought it in, until its final NOTIFY */
    sylk_timer *prompt_timer;
    struct screen *screen; /* its shared screen (screen.c), or NULL */
};

struct history_entry {
    char *from; /* CPIM From as relayed */
    char *datetime;
    char *content_type;
    GBytes *body;
};

struct room {
    char *uri; /* "sip:room@conference.example.com" */
    char *key;
    char *subject;            /* conference-description/subject, or NULL */
    GPtrArray *participants;  /* struct participant * */
    GPtrArray *subscriptions; /* struct watcher * */
    GPtrArray *files;         /* struct room_file *, published */
    GPtrArray *transfers;     /* struct transfer * (files.c): uploads and downloads */
    sylk_mixer *mixer;
    GQueue history; /* struct history_entry *, oldest first */
};

/* A conference-info subscription. RFC 4575 section 5.1: versions are scoped within a
 * subscription, start at 0 and rise by one with every document sent: the next version is the
 * number of documents sent so far. */
struct watcher {
    sylk_subscription *subscription;
    struct room *room;
    unsigned documents;
};

/* conference.c */
const struct sylk_host *conf_host(void);
const struct conf_settings *conf_settings(void);

/* room.c */
struct room *room_find(const char *key);
/**
 * The room of `uri`, made if absent with `subject` (its [room] section's subject, else the
 * creating INVITE's Subject header; may be NULL).
 */
struct room *room_get_or_create(const char *uri, const char *subject);
/**
 * Adds a participant for a session (its streams chosen by the caller): `uri` and `display` are
 * who it is (the From of an INVITE received, the To of one the room sent), `contact` its
 * endpoint (NULL: the URI).
 */
struct participant *room_add(struct room *room, sylk_session *session, const char *uri,
                             const char *display, const char *contact, sylk_stream *audio,
                             sylk_stream *chat);
/** The room's participants whose address is `key` (user@host), but `skip` (may be NULL). */
GPtrArray *room_participants_of(struct room *room, const char *key, struct participant *skip);
/** The session is confirmed: audio joins the mixer, chat gets welcome and history. */
void room_participant_established(struct participant *p);
/**
 * A re-INVITE changed its media: audio in or out of the mixer, hold, notices for media added
 * or removed, history for a chat stream it added, conference-info.
 */
void room_participant_updated(struct participant *p);
/** The session ended: notices, conference-info; the room goes with its last participant. */
void room_remove(struct participant *p);
/** "Alice" (nickname, else display name, else user@host). */
const char *participant_name(const struct participant *p);
/** The CPIM address a participant's messages are relayed with: "Name" <uri>. */
char *participant_cpim_address(const struct participant *p);
/** A status notice from the room to every chat participant but `skip` (may be NULL). */
void room_notice(struct room *room, struct participant *skip, const char *format, ...)
    G_GNUC_PRINTF(3, 4);
/** A status notice to one participant. */
void room_notice_to(struct participant *p, const char *text);
/** Something in the room changed: a full-state NOTIFY to every subscriber, each with its next
 *  version. */
void room_changed(struct room *room);
/** Accepts a conference-info subscription and sends the current state. */
void room_subscribe(struct room *room, sylk_subscription *sub);
/** Ends every room (plugin shutdown). */
void rooms_shutdown(void);
void rooms_init(void);
/** The rooms' metrics (SDK 1.9 collector): rooms open, participants by media, files. */
void rooms_collect(sylk_metric_writer *writer, void *user_data);

/* chat.c */
extern const struct sylk_chat_handler conf_chat_handler;
/** Replays the history to a newcomer's chat stream. */
void chat_replay_history(struct participant *p);
void chat_history_clear(struct room *room);

#endif

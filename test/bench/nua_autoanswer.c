/*
 * nua_autoanswer — the ceiling for test/bench/echo_cps: a bare sofia-sip nua user agent that
 * answers every INVITE at once with 180 Ringing then 200 OK and a fixed PCMU SDP answer (the
 * messages the echo plugin sends), and lets nua answer BYE. It opens no media and routes
 * nothing, so it is what the SIP stack alone costs per call. Like sylkserver, nua runs on the
 * application's thread (su_root_threading 0): no stack thread, no hand-over between threads.
 *
 *   nua_autoanswer PORT        listen on udp 127.0.0.1:PORT until SIGINT/SIGTERM
 *
 * Prints "nua_autoanswer listening on 127.0.0.1:PORT" on stdout once bound, and
 * "nua_autoanswer answered N calls" when it stops.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_wait.h>

struct app {
    su_root_t *root;
    nua_t *nua;
    unsigned long answered;
    int shutting_down;
};

static const char sdp_answer[] = "v=0\r\n"
                                 "o=- 1 1 IN IP4 127.0.0.1\r\n"
                                 "s=-\r\n"
                                 "c=IN IP4 127.0.0.1\r\n"
                                 "t=0 0\r\n"
                                 "m=audio 40000 RTP/AVP 0\r\n"
                                 "a=rtpmap:0 PCMU/8000\r\n";

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    char c = 1;
    if (write(signal_pipe[1], &c, 1) < 0) {
        /* nothing sensible to do in a signal handler */
    }
}

static int signal_readable(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
    (void)w;
    (void)arg;
    struct app *app = (struct app *)magic;
    char buf[16];
    if (read(signal_pipe[0], buf, sizeof(buf)) < 0) {
        /* spurious wakeup */
    }
    if (!app->shutting_down) {
        app->shutting_down = 1;
        nua_shutdown(app->nua);
    }
    return 0;
}

static void nua_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
                      nua_magic_t *magic, nua_handle_t *nh, nua_hmagic_t *hmagic, sip_t const *sip,
                      tagi_t tags[])
{
    (void)phrase;
    (void)hmagic;
    (void)sip;
    struct app *app = (struct app *)magic;

    switch (event) {
    case nua_i_invite:
        nua_respond(nh, SIP_180_RINGING, NUTAG_WITH_THIS(nua), TAG_END());
        nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua),
                    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp_answer),
                    TAG_END());
        app->answered++;
        break;
    case nua_i_state: {
        int state = nua_callstate_init;
        tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
        if (state == nua_callstate_terminated && nh != NULL)
            nua_handle_destroy(nh);
        break;
    }
    case nua_i_options:
    case nua_i_message:
        /* nua already answered these; drop the handle it created for us */
        if (nh != NULL)
            nua_handle_destroy(nh);
        break;
    case nua_r_shutdown:
        if (status >= 200)
            su_root_break(app->root);
        break;
    default:
        break;
    }
}

int main(int argc, char *argv[])
{
    if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: %s UDP-PORT\n", argv[0]);
        return 2;
    }
    char url[64];
    snprintf(url, sizeof(url), "sip:127.0.0.1:%d;transport=udp", atoi(argv[1]));

    struct app app = {0};
    if (pipe(signal_pipe) < 0) {
        perror("pipe");
        return 1;
    }
    su_init();
    su_log_set_level(NULL, 0);
    app.root = su_root_create(&app);
    if (app.root == NULL) {
        fprintf(stderr, "su_root_create failed\n");
        return 1;
    }
    su_root_threading(app.root, 0);
    su_wait_t wait[1];
    su_wait_create(wait, signal_pipe[0], SU_WAIT_IN);
    su_root_register(app.root, wait, signal_readable, NULL, 0);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    app.nua = nua_create(app.root, nua_event, &app, NUTAG_URL(url), NUTAG_MEDIA_ENABLE(0),
                         NUTAG_AUTOANSWER(0), TAG_END());
    if (app.nua == NULL) {
        fprintf(stderr, "nua_create failed for %s\n", url);
        return 1;
    }
    printf("nua_autoanswer listening on 127.0.0.1:%d\n", atoi(argv[1]));
    fflush(stdout);

    su_root_run(app.root);

    nua_destroy(app.nua);
    su_root_destroy(app.root);
    su_deinit();
    printf("nua_autoanswer answered %lu calls\n", app.answered);
    return 0;
}

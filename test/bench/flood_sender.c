/*
 * flood_sender — a burst of SIP requests over UDP, and how many of them got a final answer.
 * The load of test/bench/flood and of test/integration/test_floods.py; an independent peer:
 * nothing of core/ is linked.
 *
 *   flood_sender --to IP:PORT --count N [--method OPTIONS|INVITE] [--rate R] [--wait S]
 *                [--uri SIP-URI] [--from IP]
 *
 * Sends N requests, each its own transaction and call (Call-ID flood-PID-I), at R per second
 * (0, the default: as fast as the socket takes them), then listens S seconds more (default 3)
 * for the answers. Never retransmits and never ACKs, so a request lost anywhere stays lost and
 * an INVITE's final answer stays un-ACKed (the server retransmits it until its Timer H). Its own
 * receive buffer is made large (SO_RCVBUFFORCE as root) so that the answers it counts are the
 * server's, not its own losses. Prints one line:
 *
 *   flood_sender: sent 20000 OPTIONS in 0.41 s (48780/s); answered 19876 (200: 19876, 503: 0,
 *   other: 0), unanswered 124 (0.6%)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_BUFFER (64u << 20)

struct options {
    struct sockaddr_in to, from;
    const char *method, *uri;
    unsigned count;
    double rate, wait;
};

struct tally {
    short *status; /* first final status per request, 0: none yet */
    unsigned answered, ok, unavailable, other;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_addr(const char *text, struct sockaddr_in *out, int need_port)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    size_t n = colon && need_port ? (size_t)(colon - text) : strlen(text);
    if (n >= sizeof(host))
        return -1;
    memcpy(host, text, n);
    host[n] = '\0';
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
        return -1;
    if (need_port) {
        if (!colon)
            return -1;
        out->sin_port = htons((unsigned short)atoi(colon + 1));
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: flood_sender --to IP:PORT --count N [--method OPTIONS|INVITE] "
                    "[--rate R] [--wait S] [--uri SIP-URI] [--from IP]\n");
    exit(2);
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"to", required_argument, 0, 't'},     {"count", required_argument, 0, 'n'},
        {"method", required_argument, 0, 'm'}, {"rate", required_argument, 0, 'r'},
        {"wait", required_argument, 0, 'w'},   {"uri", required_argument, 0, 'u'},
        {"from", required_argument, 0, 'f'},   {0, 0, 0, 0},
    };
    memset(o, 0, sizeof(*o));
    o->method = "OPTIONS";
    o->wait = 3;
    parse_addr("127.0.0.1", &o->from, 0);
    int c, have_to = 0;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 't':
            if (parse_addr(optarg, &o->to, 1) < 0)
                usage();
            have_to = 1;
            break;
        case 'n':
            o->count = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'm':
            o->method = optarg;
            break;
        case 'r':
            o->rate = atof(optarg);
            break;
        case 'w':
            o->wait = atof(optarg);
            break;
        case 'u':
            o->uri = optarg;
            break;
        case 'f':
            if (parse_addr(optarg, &o->from, 0) < 0)
                usage();
            break;
        default:
            usage();
        }
    }
    if (!have_to || !o->count || (strcmp(o->method, "OPTIONS") && strcmp(o->method, "INVITE")))
        usage();
}

static size_t make_request(const struct options *o, const char *local, unsigned i, char *buf,
                           size_t size)
{
    static const char sdp[] = "v=0\r\n"
                              "o=flood 1 1 IN IP4 127.0.0.1\r\n"
                              "s=-\r\n"
                              "c=IN IP4 127.0.0.1\r\n"
                              "t=0 0\r\n"
                              "m=audio 40000 RTP/AVP 0\r\n"
                              "a=rtpmap:0 PCMU/8000\r\n"
                              "a=sendrecv\r\n";
    int invite = strcmp(o->method, "INVITE") == 0;
    int n =
        snprintf(buf, size,
                 "%s %s SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP %s;branch=z9hG4bKflood%ux%u;rport\r\n"
                 "From: <sip:flood@%s>;tag=f%u\r\n"
                 "To: <%s>\r\n"
                 "Call-ID: flood-%d-%u\r\n"
                 "CSeq: 1 %s\r\n"
                 "Contact: <sip:flood@%s>\r\n"
                 "Max-Forwards: 70\r\n"
                 "%s"
                 "Content-Length: %zu\r\n\r\n%s",
                 o->method, o->uri, local, (unsigned)getpid(), i, local, i, o->uri, (int)getpid(),
                 i, o->method, local, invite ? "Content-Type: application/sdp\r\n" : "",
                 invite ? strlen(sdp) : 0, invite ? sdp : "");
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* Counts a final answer once per request (a retransmitted one is ignored). */
static void take_answer(const char *buf, size_t len, unsigned count, struct tally *t)
{
    char text[2048];
    if (len >= sizeof(text))
        len = sizeof(text) - 1;
    memcpy(text, buf, len);
    text[len] = '\0';
    int status = 0;
    if (sscanf(text, "SIP/2.0 %d", &status) != 1 || status < 200)
        return;
    const char *cid = strstr(text, "\nCall-ID: flood-");
    if (!cid)
        cid = strstr(text, "\ni: flood-");
    const char *dash = cid ? strchr(strstr(cid, "flood-") + 6, '-') : NULL;
    if (!dash)
        return;
    unsigned i = (unsigned)strtoul(dash + 1, NULL, 10);
    if (i >= count || t->status[i])
        return;
    t->status[i] = (short)status;
    t->answered++;
    if (status == 200)
        t->ok++;
    else if (status == 503)
        t->unavailable++;
    else
        t->other++;
}

static void drain(int fd, unsigned count, struct tally *t, int timeout_ms)
{
    char buf[4096];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0)
            return;
        take_answer(buf, (size_t)n, count, t);
    }
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    char target[96], uri[160];
    snprintf(target, sizeof(target), "%s:%u", inet_ntoa(o.to.sin_addr), ntohs(o.to.sin_port));
    if (!o.uri) {
        snprintf(uri, sizeof(uri), "sip:flood@%s", target);
        o.uri = uri;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int size = (int)ANSWER_BUFFER;
    if (fd < 0 || bind(fd, (struct sockaddr *)&o.from, sizeof(o.from)) < 0) {
        perror("flood_sender: socket");
        return 1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    struct sockaddr_in self;
    socklen_t slen = sizeof(self);
    getsockname(fd, (struct sockaddr *)&self, &slen);
    char local[64];
    snprintf(local, sizeof(local), "%s:%u", inet_ntoa(self.sin_addr), ntohs(self.sin_port));

    struct tally t = {.status = calloc(o.count, sizeof(short))};
    char req[2048];
    double start = now_s();
    for (unsigned i = 0; i < o.count; i++) {
        size_t len = make_request(&o, local, i, req, sizeof(req));
        while (sendto(fd, req, len, 0, (struct sockaddr *)&o.to, sizeof(o.to)) < 0) {
            if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
                perror("flood_sender: sendto");
                return 1;
            }
            drain(fd, o.count, &t, 1);
        }
        if (o.rate > 0) {
            double due = start + (i + 1) / o.rate;
            while (now_s() < due)
                drain(fd, o.count, &t, (int)((due - now_s()) * 1000) + 1);
        } else if (i % 64 == 63) {
            drain(fd, o.count, &t, 0);
        }
    }
    double sent_in = now_s() - start;
    double end = now_s() + o.wait;
    while (t.answered < o.count && now_s() < end)
        drain(fd, o.count, &t, (int)((end - now_s()) * 1000) + 1);
    unsigned missing = o.count - t.answered;
    printf("flood_sender: sent %u %s in %.2f s (%.0f/s); answered %u (200: %u, 503: %u, "
           "other: %u), unanswered %u (%.1f%%)\n",
           o.count, o.method, sent_in, sent_in > 0 ? o.count / sent_in : 0.0, t.answered, t.ok,
           t.unavailable, t.other, missing, 100.0 * missing / o.count);
    free(t.status);
    close(fd);
    return 0;
}

/* milter-load.c - milter protocol (v6) load generator for the benchmark (not a test).
 * Owns: N concurrent MTA-side milter connections, each sending corpus messages the way
 * Postfix does (OPTNEG, macros, connect, helo, mail, rcpt, data, headers, eoh, body in
 * 64 KB chunks, eom; buffered up to the next command that has a reply, as Postfix's
 * VSTREAM is), reading every reply and modification and honouring the filter's
 * SMFIP_NO* / SMFIP_NR_* / SMFIP_SKIP choices. With several -f filters each message goes
 * through them in order, as Postfix's smtpd_milters = a, b: SMTP events to each filter
 * in turn, then the whole content to a, then to b with a's added headers applied.
 * Does not own: starting or measuring the filters (run-bench.py reads their CPU/RSS).
 * Threads: one per connection slot; they share only the read-only corpus, the atomic
 * message counter and the stop time; results are merged after join.
 *
 * Build: cc -O2 -pthread -o milter-load milter-load.c
 * Usage: milter-load [-c CONNS] [-d SECONDS] [-n MESSAGES] [-m MSGS_PER_CONN]
 *                    [-t TIMEOUT] [-H SECONDS [-I]] [-Q]
 *                    -f HOST:PORT [-f HOST:PORT] CORPUSDIR
 * -H SECONDS (memory measurement): every connection sends its first message, then
 * stops its second one just before end-of-message; when all CONNS are there (or have
 * failed) it prints "milter-load: holding N" on stderr, holds SECONDS, completes the
 * message, quits and does not reconnect (wants -m 2 or more). With -I the hold point is
 * between the two messages instead (the connection open and idle, as an MTA keeps it
 * between SMTP transactions).
 * -Q acknowledges every reply at once (TCP_QUICKACK). An MTA does not, so by default a
 * filter that writes its EOM reply in several small packets meets Nagle + delayed ACK
 * (about 40 ms) exactly as it would behind Postfix; -Q shows how much of the latency
 * that is.
 * Prints one JSON object: messages, msgs_per_s, p50_ms, p99_ms, errors (by kind) and
 * how many messages got spf=pass / dkim=pass / dmarc=pass in an added A-R header.
 * Latency: from the first command of the message (TCP connect + OPTNEG for the first
 * message of a connection, MAIL for later ones) to the last filter's EOM reply.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILTERS 4
#define MAX_HDRS 64
#define MAX_MODS 16
#define CHUNK 65535 /* MILTER_CHUNK_SIZE */
#define MAX_PKT (16 * 1024 * 1024)
#define OBUF (64 * 1024) /* output buffer: Postfix sizes its VSTREAM to the TCP MSS (64 KB on loopback) */

/* Protocol steps (mfdef.h SMFIP_*). */
#define P_NOCONNECT 0x1
#define P_NOHELO 0x2
#define P_NOMAIL 0x4
#define P_NORCPT 0x8
#define P_NOBODY 0x10
#define P_NOHDRS 0x20
#define P_NOEOH 0x40
#define P_NR_HDR 0x80
#define P_NODATA 0x200
#define P_SKIP 0x400
#define P_NR_CONN 0x1000
#define P_NR_HELO 0x2000
#define P_NR_MAIL 0x4000
#define P_NR_RCPT 0x8000
#define P_NR_DATA 0x10000
#define P_NR_EOH 0x40000
#define P_NR_BODY 0x80000
#define P_HDR_LEADSPC 0x100000
#define P_OFFER 0x1FFFFF /* everything, as Postfix 3.x offers */
#define F_OFFER 0x1FF

enum err_kind { E_REFUSED, E_CONNECT, E_IO, E_PROTO, E_TEMPFAIL, E_REJECT, E_NKIND };
static const char *err_names[E_NKIND] = {"refused", "connect", "io",
                                         "proto",   "tempfail", "reject"};

struct hdr {
	char *name;
	char *value; /* after the colon, leading space kept, folds as "\n" */
};

struct cmsg {
	char client[64], host[256], helo[256], from[320], rcpt[320];
	struct hdr hdrs[MAX_HDRS];
	int nhdrs;
	const char *body;
	size_t bodylen;
	char *raw; /* the file's bytes; hdrs and body point into it */
};

struct filter_addr {
	struct sockaddr_in sa;
};

/* One milter session (one filter of the chain) on one connection. */
struct sess {
	int fd;
	uint32_t actions, proto;
	char symlist[8][512]; /* per SMFIM_* stage; empty = send all */
	int done_conn;        /* accept at connect/helo: nothing more on this connection */
	int done_msg;         /* accept/skip for the rest of this message */
	char *obuf;           /* commands not yet written (see send_pkt) */
	size_t olen;
};

struct tstats {
	uint32_t *lat_us;
	size_t nlat, cap;
	long errs[E_NKIND];
	long spf, dkim, dmarc, ar;
	double last_end;
};

static struct cmsg *corpus;
static int ncorpus;
static struct filter_addr filters[MAX_FILTERS];
static int nfilters;
static int conns = 1, per_conn = 10, timeout_s = 60;
static int quickack; /* -Q: ACK at once (diagnostic; Postfix does not do this) */
static double duration = 0;
static long max_msgs = 0;
static atomic_long next_msg;
static atomic_long qid_seq;
static double t_start, t_stop;
static pthread_barrier_t barrier;
static double hold_s;          /* -H */
static int hold_idle;          /* -I: hold between messages, not mid-message */
static atomic_int nheld;       /* connections at the hold point (or failed before it) */
static atomic_long release_us; /* when the held connections go on; 0 = not yet */

static double now(void);
static void load_corpus(const char *dir);
static void *slot_main(void *arg);

/* now - monotonic seconds */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* die - usage or setup error before the load starts */
static void die(const char *what)
{
	fprintf(stderr, "milter-load: %s\n", what);
	exit(2);
}

/* parse_msg - split one corpus file into envelope, header fields and body */
static int parse_msg(char *buf, size_t len, struct cmsg *m)
{
	char *p = buf, *end = buf + len;
	memset(m, 0, sizeof(*m));
	while (p < end && *p != '\n') {
		char *nl = memchr(p, '\n', end - p);
		if (!nl)
			return -1;
		*nl = '\0';
		if (!strncmp(p, "client ", 7))
			sscanf(p + 7, "%63s %255s", m->client, m->host);
		else if (!strncmp(p, "helo ", 5))
			snprintf(m->helo, sizeof(m->helo), "%s", p + 5);
		else if (!strncmp(p, "from ", 5))
			snprintf(m->from, sizeof(m->from), "%s", p + 5);
		else if (!strncmp(p, "rcpt ", 5))
			snprintf(m->rcpt, sizeof(m->rcpt), "%s", p + 5);
		p = nl + 1;
	}
	if (p >= end)
		return -1;
	p++; /* blank line after the envelope */
	/* Header fields: "Name:value" CRLF, continuation lines start with WSP. */
	while (p + 1 < end && !(p[0] == '\r' && p[1] == '\n')) {
		char *colon = memchr(p, ':', end - p);
		if (!colon || m->nhdrs == MAX_HDRS)
			return -1;
		*colon = '\0';
		m->hdrs[m->nhdrs].name = p;
		char *v = colon + 1, *w = v, *q = v;
		for (;;) {
			char *crlf = memmem(q, end - q, "\r\n", 2);
			if (!crlf)
				return -1;
			memmove(w, q, crlf - q);
			w += crlf - q;
			q = crlf + 2;
			if (q < end && (*q == ' ' || *q == '\t')) {
				*w++ = '\n'; /* Postfix sends folds as LF */
				continue;
			}
			break;
		}
		*w = '\0';
		m->hdrs[m->nhdrs++].value = v;
		p = q;
	}
	m->body = p + 2;
	m->bodylen = end - (p + 2);
	return 0;
}

/* load_corpus - read every *.msg file of dir into memory */
static void load_corpus(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];
	int cap = 0;
	if (!d)
		die("cannot open the corpus directory");
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".msg"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		struct stat st;
		if (!f || fstat(fileno(f), &st) < 0)
			die("cannot read a corpus file");
		char *buf = malloc(st.st_size + 1);
		if (!buf || fread(buf, 1, st.st_size, f) != (size_t)st.st_size)
			die("cannot read a corpus file");
		fclose(f);
		buf[st.st_size] = '\0';
		if (ncorpus == cap) {
			cap = cap ? cap * 2 : 64;
			corpus = realloc(corpus, cap * sizeof(*corpus));
			if (!corpus)
				die("out of memory");
		}
		if (parse_msg(buf, st.st_size, &corpus[ncorpus]) < 0) {
			fprintf(stderr, "milter-load: %s: bad corpus file\n", path);
			exit(2);
		}
		corpus[ncorpus].raw = buf;
		ncorpus++;
	}
	closedir(d);
	if (ncorpus == 0)
		die("no *.msg files in the corpus directory");
}

/* ---- wire ---- */

/* writev_all - write all of iov, retrying short writes */
static int writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= w;
		}
	}
	return 0;
}

/* flush_out - write the buffered commands */
static int flush_out(struct sess *s)
{
	struct iovec iov = {s->obuf, s->olen};
	int r = s->olen > 0 ? writev_all(s->fd, &iov, 1) : 0;
	s->olen = 0;
	return r;
}

/* send_pkt - one packet: length, command, up to three data parts. Buffered as Postfix's
 * milter client buffers (a VSTREAM flushed when it reads a reply or when full): the
 * commands that get no reply go out in one write with the next one that does. */
static int send_pkt(struct sess *s, char cmd, const void *a, size_t alen, const void *b,
		    size_t blen)
{
	uint32_t len = htonl((uint32_t)(1 + alen + blen));
	size_t total = 5 + alen + blen;
	if (s->obuf == NULL && (s->obuf = malloc(OBUF)) == NULL)
		die("out of memory");
	if (s->olen + total > OBUF && flush_out(s) < 0)
		return -1;
	if (total > OBUF) {
		struct iovec iov[4] = {{&len, 4}, {&cmd, 1}, {(void *)a, alen}, {(void *)b, blen}};
		return writev_all(s->fd, iov, 4);
	}
	memcpy(s->obuf + s->olen, &len, 4);
	s->obuf[s->olen + 4] = cmd;
	if (alen)
		memcpy(s->obuf + s->olen + 5, a, alen);
	if (blen)
		memcpy(s->obuf + s->olen + 5 + alen, b, blen);
	s->olen += total;
	return 0;
}

/* readn - read exactly n bytes */
static int readn(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

/* recv_pkt - one packet into *buf (grown as needed); returns the command byte or -1 */
static int recv_pkt(struct sess *s, char **buf, size_t *cap, size_t *dlen)
{
	uint32_t len;
	char cmd;
	if (flush_out(s) < 0)
		return -1;
	if (quickack) {
		int one = 1;
		setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	}
	if (readn(s->fd, &len, 4) < 0)
		return -1;
	len = ntohl(len);
	if (len < 1 || len > MAX_PKT)
		return -2;
	if (readn(s->fd, &cmd, 1) < 0)
		return -1;
	*dlen = len - 1;
	if (*dlen + 1 > *cap) {
		*cap = *dlen + 1;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			return -1;
	}
	if (*dlen && readn(s->fd, *buf, *dlen) < 0)
		return -1;
	(*buf)[*dlen] = '\0';
	return (unsigned char)cmd;
}

/* ---- one connection ---- */

struct conn {
	struct sess s[MAX_FILTERS];
	char *rbuf;
	size_t rcap;
	struct tstats *st;
	char ar[8192]; /* added Authentication-Results values of the current message */
	size_t arlen;
	struct hdr mods[MAX_FILTERS][MAX_MODS]; /* headers added by each filter */
	int nmods[MAX_FILTERS];
	int modidx[MAX_FILTERS][MAX_MODS]; /* -1 = add at the end, else insert index */
	int msgno; /* 0-based message number on this connection */
	int hold;  /* -H: 1 until this connection has reached the hold point */
};

enum { R_CONT, R_DONE_ACCEPT, R_REJECT, R_TEMPFAIL, R_ERR_IO, R_ERR_PROTO };

/* stage_index - SMFIM_* index of the macros sent with command c */
static int stage_index(char c)
{
	switch (c) {
	case 'C': return 0;
	case 'H': return 1;
	case 'M': return 2;
	case 'R': return 3;
	case 'T': return 4;
	case 'E': return 5;
	case 'N': return 6;
	default: return -1;
	}
}

/* in_symlist - is macro name k (as "i" or "{x}") in the filter's list for a stage */
static int in_symlist(const char *list, const char *k)
{
	char bare[80];
	size_t kl = strlen(k);
	if (k[0] == '{' && kl > 2)
		snprintf(bare, sizeof(bare), "%.*s", (int)(kl - 2), k + 1);
	else
		snprintf(bare, sizeof(bare), "%s", k);
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		size_t n = e - p;
		if ((n == kl && !strncmp(p, k, n)) ||
		    (n == strlen(bare) && !strncmp(p, bare, n)) ||
		    (n == strlen(bare) + 2 && p[0] == '{' && !strncmp(p + 1, bare, n - 2)))
			return 1;
		p = e;
	}
	return 0;
}

/* send_macros - SMFIC_MACRO for command c: name/value pairs, filtered by the symlist */
static int send_macros(struct sess *s, char c, const char *const *kv, int n)
{
	char buf[2048];
	size_t off = 0;
	int si = stage_index(c);
	buf[off++] = c;
	for (int i = 0; i < n; i += 2) {
		if (si >= 0 && s->symlist[si][0] && !in_symlist(s->symlist[si], kv[i]))
			continue;
		size_t kl = strlen(kv[i]) + 1, vl = strlen(kv[i + 1]) + 1;
		if (off + kl + vl > sizeof(buf))
			break;
		memcpy(buf + off, kv[i], kl);
		off += kl;
		memcpy(buf + off, kv[i + 1], vl);
		off += vl;
	}
	if (off == 1)
		return 0;
	return send_pkt(s, 'D', buf, off, NULL, 0);
}

/* read_reply - read until a final reply; records EOM modifications of filter fi */
static int read_reply(struct conn *c, int fi, int eom)
{
	struct sess *s = &c->s[fi];
	for (;;) {
		size_t dlen;
		int cmd = recv_pkt(s, &c->rbuf, &c->rcap, &dlen);
		if (cmd == -1)
			return R_ERR_IO;
		if (cmd < 0)
			return R_ERR_PROTO;
		switch (cmd) {
		case 'c': return R_CONT;
		case 'a': return R_DONE_ACCEPT;
		case 's': return R_DONE_ACCEPT; /* skip: no more body for this filter */
		case 'r': return R_REJECT;
		case 'd': return R_REJECT;
		case 't': return R_TEMPFAIL;
		case 'y': return c->rbuf[0] == '4' ? R_TEMPFAIL : R_REJECT;
		case 'p': continue; /* progress */
		case 'h':           /* addheader: name \0 value \0 */
		case 'i': {         /* insheader: index, name \0 value \0 */
			if (!eom)
				return R_ERR_PROTO;
			const char *p = c->rbuf;
			int idx = -1;
			if (cmd == 'i') {
				uint32_t v;
				if (dlen < 4)
					return R_ERR_PROTO;
				memcpy(&v, p, 4);
				idx = (int)ntohl(v);
				p += 4;
			}
			const char *name = p;
			const char *val = memchr(p, '\0', c->rbuf + dlen - p);
			if (!val)
				return R_ERR_PROTO;
			val++;
			if (!strcasecmp(name, "Authentication-Results")) {
				int k = snprintf(c->ar + c->arlen, sizeof(c->ar) - c->arlen, "%s;",
						 val);
				if (k > 0 && c->arlen + k < sizeof(c->ar))
					c->arlen += k;
			}
			if (c->nmods[fi] < MAX_MODS) {
				int m = c->nmods[fi]++;
				c->mods[fi][m].name = strdup(name);
				c->mods[fi][m].value = strdup(val);
				c->modidx[fi][m] = idx;
			}
			continue;
		}
		case 'm': case 'e': case '+': case '-': case '2': case 'b': case 'q': case 'l':
			if (!eom)
				return R_ERR_PROTO;
			continue; /* other modifications: read and ignore */
		default:
			return R_ERR_PROTO;
		}
	}
}

/* command - send one SMTP-event command to filter fi; reply unless NO/NR says not */
static int command(struct conn *c, int fi, char cmd, const void *data, size_t len,
		   uint32_t nostep, uint32_t noreply, const char *const *kv, int nkv)
{
	struct sess *s = &c->s[fi];
	if (s->done_conn || s->done_msg || (s->proto & nostep))
		return R_CONT;
	if (nkv && send_macros(s, cmd, kv, nkv) < 0)
		return R_ERR_IO;
	if (send_pkt(s, cmd, data, len, NULL, 0) < 0)
		return R_ERR_IO;
	if (s->proto & noreply)
		return R_CONT;
	int r = read_reply(c, fi, 0);
	if (r == R_DONE_ACCEPT) {
		if (cmd == 'C' || cmd == 'H')
			s->done_conn = 1;
		else
			s->done_msg = 1;
		return R_CONT;
	}
	return r;
}

/* open_sess - TCP connect and OPTNEG with filter fi */
static int open_sess(struct conn *c, int fi)
{
	struct sess *s = &c->s[fi];
	char *obuf = s->obuf; /* kept across connections */
	memset(s, 0, sizeof(*s));
	s->obuf = obuf;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->fd < 0)
		return E_CONNECT;
	struct timeval tv = {timeout_s, 0};
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s->fd, (struct sockaddr *)&filters[fi].sa, sizeof(filters[fi].sa)) < 0) {
		int e = errno;
		close(s->fd);
		s->fd = -1;
		return e == ECONNREFUSED ? E_REFUSED : E_CONNECT;
	}
	uint32_t neg[3] = {htonl(6), htonl(F_OFFER), htonl(P_OFFER)};
	if (send_pkt(s, 'O', neg, sizeof(neg), NULL, 0) < 0)
		return E_IO;
	size_t dlen;
	int cmd = recv_pkt(s, &c->rbuf, &c->rcap, &dlen);
	if (cmd == -1)
		return E_IO;
	if (cmd != 'O' || dlen < 12)
		return E_PROTO;
	memcpy(neg, c->rbuf, 12);
	s->actions = ntohl(neg[1]);
	s->proto = ntohl(neg[2]);
	size_t off = 12;
	while (off + 5 <= dlen) { /* SETSYMLIST: uint32 where, "{a} {b}" \0 */
		uint32_t w;
		memcpy(&w, c->rbuf + off, 4);
		w = ntohl(w);
		const char *list = c->rbuf + off + 4;
		size_t l = strnlen(list, dlen - off - 4);
		if (w < 8)
			snprintf(s->symlist[w], sizeof(s->symlist[w]), "%s", list);
		off += 4 + l + 1;
	}
	return -1;
}

/* close_conn - QUIT to every open session and close */
static void close_conn(struct conn *c, int quit)
{
	for (int i = 0; i < nfilters; i++) {
		if (c->s[i].fd < 0)
			continue;
		if (quit && send_pkt(&c->s[i], 'Q', NULL, 0, NULL, 0) == 0)
			flush_out(&c->s[i]);
		c->s[i].olen = 0;
		close(c->s[i].fd);
		c->s[i].fd = -1;
	}
}

/* free_mods - drop the headers added by the filters for the last message */
static void free_mods(struct conn *c)
{
	for (int i = 0; i < nfilters; i++) {
		for (int m = 0; m < c->nmods[i]; m++) {
			free(c->mods[i][m].name);
			free(c->mods[i][m].value);
		}
		c->nmods[i] = 0;
	}
	c->arlen = 0;
	c->ar[0] = '\0';
}

/* hold_arrive - -H: count this connection in; with wait, stay until every connection
 * has arrived and SECONDS have passed (or timeout_s without everyone: go on) */
static void hold_arrive(struct conn *c, int wait)
{
	double t0 = now();
	c->hold = 0;
	if (atomic_fetch_add(&nheld, 1) + 1 == conns) {
		fprintf(stderr, "milter-load: holding %d\n", conns);
		fflush(stderr);
		atomic_store(&release_us, (long)((now() + hold_s) * 1e6));
	}
	while (wait) {
		long r = atomic_load(&release_us);
		if ((r != 0 && now() * 1e6 >= r) || (r == 0 && now() - t0 > timeout_s))
			break;
		usleep(20000);
	}
}

/* content - headers, eoh, body chunks and eom to filter fi; earlier filters' headers
 * are applied first (Postfix's cleanup hands the next milter the modified message) */
static int content(struct conn *c, int fi, const struct cmsg *m, const char *const *eomkv)
{
	struct sess *s = &c->s[fi];
	const struct hdr *list[MAX_HDRS + MAX_FILTERS * MAX_MODS];
	int n = 0;
	if (s->done_conn || s->done_msg)
		return R_CONT;
	for (int i = 0; i < m->nhdrs; i++)
		list[n++] = &m->hdrs[i];
	for (int p = 0; p < fi; p++) {
		for (int k = 0; k < c->nmods[p]; k++) {
			int at = c->modidx[p][k];
			if (at < 0 || at > n)
				at = n;
			memmove(&list[at + 1], &list[at], (n - at) * sizeof(list[0]));
			list[at] = &c->mods[p][k];
			n++;
		}
	}
	if (!(s->proto & P_NOHDRS)) {
		for (int i = 0; i < n; i++) {
			const char *v = list[i]->value;
			if (!(s->proto & P_HDR_LEADSPC))
				while (*v == ' ' || *v == '\t')
					v++;
			int r;
			if (send_pkt(s, 'L', list[i]->name, strlen(list[i]->name) + 1, v,
				     strlen(v) + 1) < 0)
				return R_ERR_IO;
			if (s->proto & P_NR_HDR)
				continue;
			r = read_reply(c, fi, 0);
			if (r == R_DONE_ACCEPT) {
				s->done_msg = 1;
				return R_CONT;
			}
			if (r != R_CONT)
				return r;
		}
	}
	int r = command(c, fi, 'N', NULL, 0, P_NOEOH, P_NR_EOH, NULL, 0);
	if (r != R_CONT || s->done_msg)
		return r;
	if (!(s->proto & P_NOBODY)) {
		for (size_t off = 0; off < m->bodylen; off += CHUNK) {
			size_t len = m->bodylen - off < CHUNK ? m->bodylen - off : CHUNK;
			if (send_pkt(s, 'B', m->body + off, len, NULL, 0) < 0)
				return R_ERR_IO;
			if (s->proto & P_NR_BODY)
				continue;
			r = read_reply(c, fi, 0);
			if (r == R_DONE_ACCEPT)
				break; /* skip (or accept): no more body, still EOM */
			if (r != R_CONT)
				return r;
		}
	}
	if (c->hold && c->msgno == 1 && !hold_idle) {
		if (flush_out(s) < 0) /* the filter holds the content while we wait */
			return R_ERR_IO;
		hold_arrive(c, 1);
	}
	if (send_macros(s, 'E', eomkv, 2) < 0 || send_pkt(s, 'E', NULL, 0, NULL, 0) < 0)
		return R_ERR_IO;
	r = read_reply(c, fi, 1);
	return r == R_DONE_ACCEPT ? R_CONT : r;
}

/* one_message - MAIL .. EOM through every filter; returns R_CONT when accepted */
static int one_message(struct conn *c, const struct cmsg *m, int first)
{
	char qid[32], connmac[340];
	snprintf(qid, sizeof(qid), "4B%08lX", (long)atomic_fetch_add(&qid_seq, 1));
	int r;
	free_mods(c);
	for (int i = 0; i < nfilters; i++)
		c->s[i].done_msg = 0;
	if (first) {
		/* SMFIC_CONNECT: hostname \0 family port(2) address \0 */
		char cbuf[400];
		size_t hl = strlen(m->host) + 1, al = strlen(m->client) + 1;
		memcpy(cbuf, m->host, hl);
		cbuf[hl] = '4';
		uint16_t port = htons(25);
		memcpy(cbuf + hl + 1, &port, 2);
		memcpy(cbuf + hl + 3, m->client, al);
		snprintf(connmac, sizeof(connmac), "%s [%s]", m->host, m->client);
		const char *ckv[] = {"j", "mx.bench.example", "{daemon_name}", "smtpd",
				     "{daemon_addr}", "127.0.0.1", "v", "Postfix 3.7.11",
				     "_", connmac, "{client_addr}", m->client,
				     "{client_name}", m->host};
		for (int i = 0; i < nfilters; i++)
			if ((r = command(c, i, 'C', cbuf, hl + 3 + al, P_NOCONNECT, P_NR_CONN, ckv,
					 14)) != R_CONT)
				return r;
		for (int i = 0; i < nfilters; i++)
			if ((r = command(c, i, 'H', m->helo, strlen(m->helo) + 1, P_NOHELO,
					 P_NR_HELO, NULL, 0)) != R_CONT)
				return r;
	}
	char from[330], rcpt[330];
	snprintf(from, sizeof(from), "<%s>", m->from);
	snprintf(rcpt, sizeof(rcpt), "<%s>", m->rcpt);
	const char *mkv[] = {"i", qid, "{mail_addr}", m->from, "{mail_mailer}", "smtp"};
	const char *rkv[] = {"{rcpt_addr}", m->rcpt, "{rcpt_mailer}", "local"};
	const char *dkv[] = {"i", qid};
	for (int i = 0; i < nfilters; i++)
		if ((r = command(c, i, 'M', from, strlen(from) + 1, P_NOMAIL, P_NR_MAIL, mkv, 6)) !=
		    R_CONT)
			return r;
	for (int i = 0; i < nfilters; i++)
		if ((r = command(c, i, 'R', rcpt, strlen(rcpt) + 1, P_NORCPT, P_NR_RCPT, rkv, 4)) !=
		    R_CONT)
			return r;
	for (int i = 0; i < nfilters; i++)
		if ((r = command(c, i, 'T', NULL, 0, P_NODATA, P_NR_DATA, dkv, 2)) != R_CONT)
			return r;
	for (int i = 0; i < nfilters; i++)
		if ((r = content(c, i, m, dkv)) != R_CONT)
			return r;
	return R_CONT;
}

/* record - latency and verdict counts of one finished message */
static void record(struct tstats *st, double t0, double t1, const struct conn *c)
{
	if (st->nlat == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 1024;
		st->lat_us = realloc(st->lat_us, st->cap * sizeof(uint32_t));
		if (!st->lat_us)
			die("out of memory");
	}
	double us = (t1 - t0) * 1e6;
	st->lat_us[st->nlat++] = us > 4e9 ? 4000000000u : (uint32_t)us;
	st->last_end = t1;
	if (c->arlen) {
		st->ar++;
		st->spf += strstr(c->ar, "spf=pass") != NULL;
		st->dkim += strstr(c->ar, "dkim=pass") != NULL;
		st->dmarc += strstr(c->ar, "dmarc=pass") != NULL;
	}
}

/* claim - take the next message index, or -1 when the run is over */
static long claim(void)
{
	if (duration > 0 && now() >= t_stop)
		return -1;
	long k = atomic_fetch_add(&next_msg, 1);
	if (max_msgs > 0 && k >= max_msgs)
		return -1;
	return k;
}

/* slot_main - one connection slot: connect, send per_conn messages, reconnect */
static void *slot_main(void *arg)
{
	struct tstats *st = arg;
	struct conn c;
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < MAX_FILTERS; i++)
		c.s[i].fd = -1;
	c.st = st;
	pthread_barrier_wait(&barrier);
	c.hold = hold_s > 0;
	for (;;) {
		long k = claim();
		if (k < 0)
			break;
		double t0 = now();
		int bad = 0;
		for (int i = 0; i < nfilters; i++) {
			int e = open_sess(&c, i);
			if (e >= 0) {
				st->errs[e]++;
				bad = 1;
				break;
			}
		}
		if (bad) {
			close_conn(&c, 0);
			continue;
		}
		for (int j = 0; j < per_conn; j++) {
			if (j > 0) {
				k = claim();
				if (k < 0)
					break;
				t0 = now();
			}
			c.msgno = j;
			if (c.hold && j == 1 && hold_idle)
				hold_arrive(&c, 1);
			int r = one_message(&c, &corpus[k % ncorpus], j == 0);
			double t1 = now();
			if (r == R_CONT) {
				record(st, t0, t1, &c);
				continue;
			}
			if (r == R_REJECT)
				st->errs[E_REJECT]++;
			else if (r == R_TEMPFAIL)
				st->errs[E_TEMPFAIL]++;
			else if (r == R_ERR_IO)
				st->errs[E_IO]++;
			else
				st->errs[E_PROTO]++;
			if (r == R_REJECT || r == R_TEMPFAIL) {
				for (int i = 0; i < nfilters; i++)
					send_pkt(&c.s[i], 'A', NULL, 0, NULL, 0);
				continue;
			}
			bad = 1;
			break;
		}
		close_conn(&c, !bad);
		free_mods(&c);
		if (hold_s > 0)
			break; /* one connection per slot */
	}
	if (c.hold)
		hold_arrive(&c, 0);
	free(c.rbuf);
	return NULL;
}

/* cmp_u32 - qsort order for latencies */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "c:d:n:m:t:f:H:IQ")) != -1) {
		switch (opt) {
		case 'c': conns = atoi(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'n': max_msgs = atol(optarg); break;
		case 'm': per_conn = atoi(optarg); break;
		case 't': timeout_s = atoi(optarg); break;
		case 'Q': quickack = 1; break;
		case 'H': hold_s = atof(optarg); break;
		case 'I': hold_idle = 1; break;
		case 'f': {
			char host[64];
			int port;
			if (nfilters == MAX_FILTERS || sscanf(optarg, "%63[^:]:%d", host, &port) != 2)
				die("-f HOST:PORT (at most 4)");
			filters[nfilters].sa.sin_family = AF_INET;
			filters[nfilters].sa.sin_port = htons(port);
			if (inet_pton(AF_INET, host, &filters[nfilters].sa.sin_addr) != 1)
				die("-f wants an IPv4 address");
			nfilters++;
			break;
		}
		default:
			die("usage: milter-load [-c N] [-d SEC] [-n MSGS] [-m PER_CONN] [-t TIMEOUT] [-H SEC [-I]] [-Q] "
			    "-f HOST:PORT [-f ...] CORPUSDIR");
		}
	}
	if (hold_s > 0 && per_conn < 2)
		die("-H wants -m 2 or more");
	if (optind != argc - 1 || nfilters == 0 || conns < 1 || per_conn < 1 ||
	    (duration <= 0 && max_msgs <= 0))
		die("need -f, a corpus directory, and -d or -n");
	load_corpus(argv[optind]);
	signal(SIGPIPE, SIG_IGN); /* a filter that dies is an I/O error, not our end */

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct tstats *st = calloc(conns, sizeof(*st));
	pthread_t *th = calloc(conns, sizeof(*th));
	pthread_attr_t attr;
	if (!st || !th)
		die("out of memory");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_barrier_init(&barrier, NULL, conns + 1);
	for (int i = 0; i < conns; i++)
		if (pthread_create(&th[i], &attr, slot_main, &st[i]) != 0)
			die("pthread_create");
	t_start = now();
	t_stop = t_start + duration;
	pthread_barrier_wait(&barrier);
	t_start = now();
	t_stop = t_start + duration;
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	double t_end = now();

	size_t total = 0;
	long errs[E_NKIND] = {0}, spf = 0, dkim = 0, dmarc = 0, ar = 0;
	double last = t_start;
	for (int i = 0; i < conns; i++) {
		total += st[i].nlat;
		for (int e = 0; e < E_NKIND; e++)
			errs[e] += st[i].errs[e];
		spf += st[i].spf;
		dkim += st[i].dkim;
		dmarc += st[i].dmarc;
		ar += st[i].ar;
		if (st[i].last_end > last)
			last = st[i].last_end;
	}
	uint32_t *all = malloc((total ? total : 1) * sizeof(uint32_t));
	size_t k = 0;
	for (int i = 0; i < conns; i++) {
		if (st[i].nlat)
			memcpy(all + k, st[i].lat_us, st[i].nlat * sizeof(uint32_t));
		k += st[i].nlat;
	}
	qsort(all, total, sizeof(uint32_t), cmp_u32);
	double el = last > t_start ? last - t_start : t_end - t_start;
	long nerr = 0;
	for (int e = 0; e < E_NKIND; e++)
		nerr += errs[e];
	printf("{\"messages\": %zu, \"seconds\": %.3f, \"msgs_per_s\": %.1f, "
	       "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"errors\": %ld, ",
	       total, el, total / el, total ? all[total / 2] / 1e3 : 0.0,
	       total ? all[(size_t)(total * 0.99)] / 1e3 : 0.0,
	       total ? all[total - 1] / 1e3 : 0.0, nerr);
	printf("\"error_kinds\": {");
	for (int e = 0; e < E_NKIND; e++)
		printf("%s\"%s\": %ld", e ? ", " : "", err_names[e], errs[e]);
	printf("}, \"with_ar\": %ld, \"spf_pass\": %ld, \"dkim_pass\": %ld, "
	       "\"dmarc_pass\": %ld, \"conns\": %d, \"filters\": %d}\n",
	       ar, spf, dkim, dmarc, conns, nfilters);
	fflush(stdout);
	for (int i = 0; i < conns; i++)
		free(st[i].lat_us);
	for (int i = 0; i < ncorpus; i++)
		free(corpus[i].raw);
	free(corpus);
	free(all);
	free(st);
	free(th);
	pthread_attr_destroy(&attr);
	pthread_barrier_destroy(&barrier);
	return 0;
}

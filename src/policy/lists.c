/* lists.c - the operator's domain lists: parsing a list file into an immutable sorted
 * set, matching a From domain against it, and reloading the file when it changes.
 * Owns struct lists_set and struct lists_file; not the rules that use them
 * (src/out/summary.c) nor where they are configured (src/conf).
 * Threads: a set is immutable and reference-counted (atomic). A lists_file has one
 * mutex guarding cur, the file identity and the check time; it is never held while
 * the file is read or parsed (a "loading" flag keeps one thread at it while the others
 * go on with the old set). The reload request is one atomic counter. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/lists.h"
#include "util/log.h"
#include "util/xalloc.h"

#define NAME_MAX_LEN 253 /* RFC 1035 2.3.4, without the trailing dot */
#define LABEL_MAX_LEN 63

struct lists_set {
    atomic_int refcnt;
    size_t nexact, nsub;
    char **exact; /* sorted, distinct, lower case */
    char **sub;   /* ".parent" entries, stored without the dot */
    char *text;   /* the names, NUL-separated; exact[] and sub[] point here */
};

struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int present;
};

struct lists_file {
    char *path;
    int interval;
    pthread_mutex_t lock;
    struct lists_set *cur; /* never NULL after lists_file_new */
    struct file_id id;     /* of the file cur came from (or of the failed attempt) */
    time_t last_check;
    unsigned seen_gen;
    int loading;
};

static atomic_uint reload_gen;

static int name_norm(const char *s, size_t n, char *out, const char **why);
static int cmp_str(const void *a, const void *b);
static size_t uniq(char **v, size_t n);
static int find(char *const *v, size_t n, const char *key);
static void report(struct lists_report *rep, const char *name, int line, const char *what);
static struct lists_set *load_path(const char *path, struct file_id *id, struct lists_report *rep);
static int same_id(const struct file_id *a, const struct file_id *b);
static void id_of(const struct stat *st, struct file_id *id);

/* name_norm - n bytes of a domain (one trailing dot allowed) -> lower case in out
 * (NAME_MAX_LEN + 1 bytes); 0, or -1 with *why */
static int name_norm(const char *s, size_t n, char *out, const char **why)
{
    size_t label = 0;

    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0) {
        *why = "empty domain";
        return -1;
    }
    if (n > NAME_MAX_LEN) {
        *why = "domain longer than 253 octets";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                *why = "empty label or label ending in '-'";
                return -1;
            }
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
            if (++label > LABEL_MAX_LEN) {
                *why = "label longer than 63 octets";
                return -1;
            }
        } else {
            *why = c >= 0x80 ? "8-bit name: write an IDN as its A-label (xn--...)"
                             : "not a domain name (letters, digits, '-' and '.' only)";
            return -1;
        }
        out[i] = (char)c;
    }
    if (s[n - 1] == '-') {
        *why = "empty label or label ending in '-'";
        return -1;
    }
    out[n] = '\0';
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* uniq - drop adjacent duplicates from a sorted array; the new count */
static size_t uniq(char **v, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
            v[k++] = v[i];
    return k;
}

/* find - binary search of a sorted array */
static int find(char *const *v, size_t n, const char *key)
{
    return n > 0 && bsearch(&key, v, n, sizeof(*v), cmp_str) != NULL;
}

/* report - count a bad line, keep and log its message */
static void report(struct lists_report *rep, const char *name, int line, const char *what)
{
    char msg[LISTS_MAX_MSG];

    snprintf(msg, sizeof(msg), "%s:%d: %s", name, line, what);
    log_warn("%s", msg);
    if (rep == NULL)
        return;
    rep->nbad++;
    if (rep->nmsg < LISTS_MAX_REPORT)
        sa_strlcpy(rep->msg[rep->nmsg++], msg, LISTS_MAX_MSG);
}

/* lists_parse - see lists.h */
struct lists_set *lists_parse(const char *text, size_t len, const char *name,
                              struct lists_report *rep)
{
    struct lists_set *s = calloc(1, sizeof(*s));
    size_t cap = 0, used = 0, nlines = 0, pos = 0;
    int line = 0;

    if (rep != NULL)
        memset(rep, 0, sizeof(*rep));
    if (s == NULL)
        return NULL;
    atomic_init(&s->refcnt, 1);
    for (size_t i = 0; i < len; i++)
        nlines += text[i] == '\n';
    nlines++;
    /* Every entry is at most NAME_MAX_LEN + 1 bytes and there is at most one a line. */
    cap = len + 1;
    s->text = malloc(cap);
    s->exact = calloc(nlines, sizeof(char *));
    s->sub = calloc(nlines, sizeof(char *));
    if (s->text == NULL || s->exact == NULL || s->sub == NULL)
        return lists_set_unref(s);
    while (pos < len) {
        const char *b = text + pos, *nl = memchr(b, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - b) : len - pos, e;
        const char *why = NULL, *hash;
        char norm[NAME_MAX_LEN + 1];
        int sub = 0;

        pos += n + (nl != NULL);
        line++;
        if (n > LISTS_MAX_LINE) {
            report(rep, name, line, "line longer than 1024 octets");
            continue;
        }
        if ((hash = memchr(b, '#', n)) != NULL)
            n = (size_t)(hash - b);
        while (n > 0 && (*b == ' ' || *b == '\t'))
            b++, n--;
        while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        for (e = 0; e < n && b[e] != ' ' && b[e] != '\t'; e++)
            ;
        if (e < n) {
            report(rep, name, line, "more than one word (one domain a line)");
            continue;
        }
        if (b[0] == '.') {
            sub = 1;
            b++, n--;
        }
        if (memchr(b, '\0', n) != NULL) {
            report(rep, name, line, "NUL byte");
            continue;
        }
        if (name_norm(b, n, norm, &why) < 0) {
            report(rep, name, line, why);
            continue;
        }
        e = strlen(norm) + 1;
        if (used + e > cap) { /* cannot happen: an entry is never longer than its line */
            report(rep, name, line, "internal error");
            continue;
        }
        memcpy(s->text + used, norm, e);
        if (sub)
            s->sub[s->nsub++] = s->text + used;
        else
            s->exact[s->nexact++] = s->text + used;
        used += e;
    }
    qsort(s->exact, s->nexact, sizeof(char *), cmp_str);
    qsort(s->sub, s->nsub, sizeof(char *), cmp_str);
    s->nexact = uniq(s->exact, s->nexact);
    s->nsub = uniq(s->sub, s->nsub);
    return s;
}

/* lists_set_ref - see lists.h */
struct lists_set *lists_set_ref(struct lists_set *s)
{
    if (s != NULL)
        atomic_fetch_add(&s->refcnt, 1);
    return s;
}

/* lists_set_unref - see lists.h */
struct lists_set *lists_set_unref(struct lists_set *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refcnt, 1) != 1)
        return NULL;
    free(s->exact);
    free(s->sub);
    free(s->text);
    free(s);
    return NULL;
}

size_t lists_set_count(const struct lists_set *s)
{
    return s ? s->nexact + s->nsub : 0;
}

/* lists_set_match - see lists.h */
int lists_set_match(const struct lists_set *s, const char *domain, const struct orgdomain *org)
{
    char d[NAME_MAX_LEN + 1], od[NAME_MAX_LEN + 2];
    const char *why;

    if (s == NULL || domain == NULL || name_norm(domain, strlen(domain), d, &why) < 0)
        return 0;
    if (find(s->exact, s->nexact, d))
        return 1;
    for (const char *p = strchr(d, '.'); p != NULL; p = strchr(p + 1, '.'))
        if (find(s->sub, s->nsub, p + 1))
            return 1;
    if (org != NULL && orgdomain_get(org, d, od, sizeof(od)) == 0 && find(s->exact, s->nexact, od))
        return 1;
    return 0;
}

/* id_of - the parts of a stat that tell a changed file */
static void id_of(const struct stat *st, struct file_id *id)
{
    memset(id, 0, sizeof(*id));
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
    id->present = 1;
}

static int same_id(const struct file_id *a, const struct file_id *b)
{
    return a->present == b->present && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* load_path - read and parse a whole list file; id gets the identity of what was read.
 * NULL (errno set) when it cannot be read. */
static struct lists_set *load_path(const char *path, struct file_id *id, struct lists_report *rep)
{
    struct lists_set *s = NULL;
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd, saved;

    memset(id, 0, sizeof(*id));
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return NULL;
    if (fstat(fd, &st) < 0)
        goto out;
    id_of(&st, id);
    if (!S_ISREG(st.st_mode)) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        goto out;
    }
    if (st.st_size > LISTS_MAX_FILE) {
        errno = EFBIG;
        goto out;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
        goto out;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break; /* shrank meanwhile: parse what is there; the size differs next time */
        got += (size_t)r;
    }
    if ((s = lists_parse(buf, got, path, rep)) == NULL)
        errno = ENOMEM;
out:
    saved = errno;
    free(buf);
    close(fd);
    errno = saved;
    return s;
}

/* lists_file_new - see lists.h */
struct lists_file *lists_file_new(const char *path, int interval, struct lists_report *rep)
{
    struct lists_file *f = calloc(1, sizeof(*f));
    struct lists_report local;

    if (f == NULL)
        return NULL;
    if ((f->path = strdup(path)) == NULL) {
        free(f);
        return NULL;
    }
    f->interval = interval < 0 ? 0 : interval;
    f->seen_gen = atomic_load(&reload_gen);
    f->cur = load_path(path, &f->id, rep ? rep : &local);
    if (f->cur == NULL) {
        int saved = errno;
        log_warn("%s: cannot read the list: %s", path, strerror(saved));
        free(f->path);
        free(f);
        errno = saved;
        return NULL;
    }
    pthread_mutex_init(&f->lock, NULL);
    f->last_check = 0; /* the first get compares with 'now' and sets it */
    log_info("%s: %zu domains loaded%s", path, lists_set_count(f->cur),
             (rep ? rep : &local)->nbad ? " (bad lines skipped)" : "");
    return f;
}

/* lists_file_free - see lists.h */
struct lists_file *lists_file_free(struct lists_file *f)
{
    if (f == NULL)
        return NULL;
    lists_set_unref(f->cur);
    pthread_mutex_destroy(&f->lock);
    free(f->path);
    free(f);
    return NULL;
}

const char *lists_file_path(const struct lists_file *f)
{
    return f ? f->path : "";
}

void lists_request_reload(void)
{
    atomic_fetch_add(&reload_gen, 1);
}

/* lists_file_get - see lists.h */
struct lists_set *lists_file_get(struct lists_file *f, time_t now)
{
    struct lists_set *s, *old = NULL, *fresh = NULL;
    struct file_id id, nid;
    struct lists_report rep;
    struct stat st;
    unsigned gen = atomic_load(&reload_gen);
    int check = 0, force = 0, failed_errno = 0;

    if (f == NULL)
        return NULL;
    pthread_mutex_lock(&f->lock);
    if (!f->loading && (gen != f->seen_gen || f->last_check == 0 ||
                        now - f->last_check >= f->interval || now < f->last_check)) {
        check = f->loading = 1;
        force = gen != f->seen_gen;
        f->seen_gen = gen;
        f->last_check = now;
        id = f->id;
    }
    pthread_mutex_unlock(&f->lock);

    if (check) {
        memset(&nid, 0, sizeof(nid));
        if (stat(f->path, &st) == 0)
            id_of(&st, &nid);
        if (force || !same_id(&id, &nid)) {
            fresh = load_path(f->path, &nid, &rep);
            if (fresh == NULL)
                failed_errno = errno;
        }
        pthread_mutex_lock(&f->lock);
        if (fresh != NULL) {
            old = f->cur;
            f->cur = fresh;
        }
        if (fresh != NULL || !same_id(&id, &nid))
            f->id = nid; /* a failed read is reported once per change of the file */
        f->loading = 0;
        pthread_mutex_unlock(&f->lock);
        if (fresh != NULL)
            log_info("%s: reloaded, %zu domains%s", f->path, lists_set_count(fresh),
                     rep.nbad ? " (bad lines skipped)" : "");
        else if (failed_errno != 0)
            log_warn("%s: cannot read the list: %s; keeping the previous one", f->path,
                     strerror(failed_errno));
        lists_set_unref(old);
    }
    pthread_mutex_lock(&f->lock);
    s = lists_set_ref(f->cur);
    pthread_mutex_unlock(&f->lock);
    return s;
}

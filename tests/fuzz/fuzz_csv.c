/* fuzz_csv.c - libFuzzer target for the consent CSV import and export
 * (store_import_csv / store_export_csv, src/store/store_csv.c, as senderauthctl import and
 * export use them), over an empty SQLite store per input: one database file in a private
 * directory under /dev/shm (or $TMPDIR), emptied between uses through a direct SQLite
 * connection and made anew every FRESH_EVERY uses; removed at exit. (The store follows
 * its file, so an in-memory database would not survive between two calls.)
 * Checks the contract, not just "does not crash":
 *   - a refused import says "in.csv:LINE: what" and leaves the store empty (all or
 *     nothing: no row, no event);
 *   - an accepted import stores at most as many subjects as it counted rows;
 *   - the export of what was stored imports again without error, stores exactly the same
 *     number of subjects, and exports byte for byte the same text (quoting and
 *     normalization are a fixed point).
 * The first input byte sets local_case_sensitive (bit 0); the rest is the CSV file.
 * SA_FUZZ_VERBOSE=1 prints the export and the second import.
 * Seeds in tests/fuzz/corpus/csv; dictionary tests/fuzz/fuzz_csv.dict. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf/conf.h"
#include "senderauth/store.h"

static struct store *fresh(void);
static long long subjects(struct store *st, long long *events);
static char *export_text(struct store *st);

static void cleanup_files(void);
static void cleanup(void);

static struct sa_conf conf;
static const struct store_evidence ev = {"fuzz", "import", "v1", NULL, NULL};
#define FRESH_EVERY 1000

static char dir[256], path[300];
static sqlite3 *wipe_db;

/* cleanup_files - the database and its journals */
static void cleanup_files(void)
{
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    char f[320];

    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        snprintf(f, sizeof(f), "%s%s", path, ext[i]);
        unlink(f);
    }
}

/* cleanup - the files and the directory (atexit) */
static void cleanup(void)
{
    sqlite3_close(wipe_db);
    cleanup_files();
    rmdir(dir);
}

/* fresh - an empty store with the current schema; aborts when that cannot be had.
 * Subjects are deleted between uses; consent_event is append-only (a trigger refuses
 * DELETE), so the file is made anew every FRESH_EVERY uses and callers count events
 * as a difference. */
static struct store *fresh(void)
{
    static unsigned uses;
    char err[512] = "";
    int from, to;
    struct store *st;

    if (dir[0] == '\0') {
        const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

        snprintf(dir, sizeof(dir), "%s/fuzz_csv_XXXXXX", tmp != NULL ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL)
            abort();
        snprintf(path, sizeof(path), "%s/consent.db", dir);
        atexit(cleanup);
        conf.store_backend = CONF_STORE_SQLITE;
        conf.store_sqlite_path = path;
        conf.store_busy_timeout_ms = 1000;
    }
    if (uses++ % FRESH_EVERY == 0) {
        wipe_db = (sqlite3_close(wipe_db), NULL);
        cleanup_files();
        st = store_open(&conf, STORE_OPEN_INIT | STORE_OPEN_WRITE, err, sizeof(err));
        if (st == NULL || store_migrate(st, &from, &to) < 0 ||
            sqlite3_open(path, &wipe_db) != SQLITE_OK)
            abort();
        return st;
    }
    if (sqlite3_exec(wipe_db, "DELETE FROM consent_user; DELETE FROM consent_domain", NULL, NULL,
                     NULL) != SQLITE_OK) {
        fprintf(stderr, "emptying the store: %s\n", sqlite3_errmsg(wipe_db));
        abort();
    }
    if ((st = store_open(&conf, STORE_OPEN_WRITE, err, sizeof(err))) == NULL) {
        fprintf(stderr, "store_open: %s\n", err);
        abort();
    }
    return st;
}

/* subjects - users + domains stored (and the events in *events) */
static long long subjects(struct store *st, long long *events)
{
    struct store_stats s;

    if (store_get_stats(st, &s) < 0) {
        fprintf(stderr, "store_get_stats: %s\n", store_strerror());
        abort();
    }
    *events = s.events;
    return s.users + s.domains;
}

/* export_text - store_export_csv into a new string */
static char *export_text(struct store *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    if (fp == NULL || store_export_csv(st, fp) < 0)
        abort();
    fclose(fp);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store *st;
    char err[1024] = "", *out, *out2;
    long n = -1, n2 = -1;
    long long ev0, ev1, ev2, got;
    int lcs, rc;
    FILE *fp;

    if (size == 0)
        return 0;
    lcs = data[0] & 1;
    st = fresh();
    if (subjects(st, &ev0) != 0)
        abort();
    /* fmemopen of zero bytes is an error in older glibc: give it one byte it never reads */
    fp = fmemopen(size > 1 ? (void *)(data + 1) : (void *)"", size > 1 ? size - 1 : 0, "r");
    if (fp == NULL) {
        store_close(st);
        return 0;
    }
    rc = store_import_csv(st, fp, "in.csv", lcs, &ev, &n, err, sizeof(err));
    fclose(fp);
    got = subjects(st, &ev1);
    ev1 -= ev0;
    if (rc != 0) {
        if (rc != -1 || strncmp(err, "in.csv:", 7) != 0 || got != 0 || ev1 != 0)
            abort();
        store_close(st);
        return 0;
    }
    if (n < 0 || got > n || ev1 != n)
        abort();
    out = export_text(st);
    store_close(st);
    /* What we exported imports into an empty store and exports the same. */
    st = fresh();
    if (subjects(st, &ev0) != 0)
        abort();
    if ((fp = fmemopen(out, strlen(out), "r")) == NULL)
        abort();
    rc = store_import_csv(st, fp, "in.csv", lcs, &ev, &n2, err, sizeof(err));
    fclose(fp);
    out2 = rc == 0 ? export_text(st) : NULL;
    if (getenv("SA_FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "import: %ld rows, %lld subjects\nexport:\n%sre-import: %d %ld \"%s\"\n%s",
                n, got, out, rc, n2, err, out2 != NULL ? out2 : "");
    if (rc != 0 || n2 != got || subjects(st, &ev2) != got || ev2 - ev0 != got ||
        strcmp(out, out2) != 0)
        abort();
    free(out);
    free(out2);
    store_close(st);
    return 0;
}

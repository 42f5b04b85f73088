/* test_out_arformat.c - Authentication-Results writer: golden files ar/NN.in -> NN.out
 * plus tables for value quoting and hostile input.
 * NN.in is one "key=value" per line: authserv-id=, method= (starts a resinfo),
 * result=, reason=, word= (a method's own result word), and any key with a '.' is a property (header.d=...). Values take
 * C escapes \n \r \t \\ \xHH. NN.out is "Authentication-Results: VALUE" with the
 * folds written as real newline + tab, and a final newline. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "out/ar_format.h"

#define MAX_IN 8192

static enum auth_res res_parse(const char *s);
static void unescape(const char *in, char *out, size_t outlen);
static int load_case(const char *path, char *store, struct ar_header *h);
static char *slurp(const char *path);
static void check_shape(const char *name, const char *v);

/* res_parse - RFC 8601 result word to enum */
static enum auth_res res_parse(const char *s)
{
    for (int r = AUTH_NONE; r <= AUTH_PERMERROR; r++)
        if (strcmp(auth_res_name((enum auth_res)r), s) == 0)
            return (enum auth_res)r;
    fail_msg("unknown result word '%s'", s);
    return AUTH_NONE;
}

/* unescape - C escapes to bytes (\x00 ends the string, which is what the writer sees) */
static void unescape(const char *in, char *out, size_t outlen)
{
    size_t n = 0;

    while (*in && n + 1 < outlen) {
        if (in[0] == '\\' && in[1]) {
            in++;
            switch (*in) {
            case 'n':
                out[n++] = '\n';
                in++;
                break;
            case 'r':
                out[n++] = '\r';
                in++;
                break;
            case 't':
                out[n++] = '\t';
                in++;
                break;
            case 'x': {
                char hex[3] = {in[1], in[1] ? in[2] : 0, 0};
                out[n++] = (char)strtol(hex, NULL, 16);
                in += 3;
                break;
            }
            default:
                out[n++] = *in++;
                break;
            }
        } else {
            out[n++] = *in++;
        }
    }
    out[n] = '\0';
}

/* load_case - parse one .in file into h; strings live in store (MAX_IN bytes) */
static int load_case(const char *path, char *store, struct ar_header *h)
{
    FILE *fp = fopen(path, "r");
    char line[1024];
    size_t used = 0;
    struct ar_resinfo *ri = NULL;

    if (fp == NULL)
        return -1;
    ar_header_init(h, "");
    while (fgets(line, sizeof(line), fp)) {
        char *eq, *val;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0' || (eq = strchr(line, '=')) == NULL)
            continue;
        *eq = '\0';
        val = store + used;
        unescape(eq + 1, val, MAX_IN - used);
        used += strlen(val) + 1 + strlen(eq + 1) + 1; /* room even for embedded NULs */
        if (used >= MAX_IN)
            fail_msg("%s: too big", path);
        if (strcmp(line, "authserv-id") == 0) {
            h->authserv_id = val;
        } else if (strcmp(line, "method") == 0) {
            ri = ar_header_add(h, val, AUTH_NONE, NULL);
        } else if (strcmp(line, "result") == 0 && ri) {
            ri->result = res_parse(val);
        } else if (strcmp(line, "reason") == 0 && ri) {
            ri->reason = val;
        } else if (strcmp(line, "word") == 0 && ri) {
            ri->word = val;
        } else if (strchr(line, '.') && ri) {
            char *name = store + used;
            snprintf(name, MAX_IN - used, "%s", line);
            used += strlen(name) + 1;
            ar_resinfo_prop(ri, name, val);
        } else {
            fail_msg("%s: bad line key '%s'", path, line);
        }
    }
    fclose(fp);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *s;
    size_t n;

    if (fp == NULL)
        return NULL;
    s = calloc(1, MAX_IN + 1);
    n = fread(s, 1, MAX_IN, fp);
    s[n] = '\0';
    fclose(fp);
    return s;
}

/* check_shape - invariants every written value must keep, whatever the input */
static void check_shape(const char *name, const char *v)
{
    size_t col = sizeof("Authentication-Results: ") - 1;
    int depth = 0, inq = 0, items = 0; /* items: top-level separators on this line */

    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' || (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f)
            fail_msg("%s: byte 0x%02x in output", name, c);
        if (c == '\n') {
            if (p[1] != '\t')
                fail_msg("%s: newline not followed by a tab", name);
            col = 0;
            items = 0;
            continue;
        }
        col += (c == '\t') ? 8 - col % 8 : 1;
        if (c == ' ' && depth == 0 && !inq)
            items++;
        /* a line may pass the limit only when it holds one item that cannot be split */
        if (col > AR_FOLD_COLUMN && items > 0)
            fail_msg("%s: line longer than %d columns", name, AR_FOLD_COLUMN);
        if (col > 998)
            fail_msg("%s: line longer than 998 columns", name);
        if (inq) {
            if (c == '"')
                inq = 0;
            else if (c == ';' || c == '\\' || c == '(')
                fail_msg("%s: '%c' inside a quoted-string", name, c);
        } else if (depth > 0) {
            if (c == ')')
                depth--;
            else if (c == '(' || c == ';' || c == '\\' || c == '"')
                fail_msg("%s: '%c' inside a comment", name, c);
        } else if (c == '(') {
            depth++;
        } else if (c == '"') {
            inq = 1;
        }
    }
    if (depth != 0 || inq)
        fail_msg("%s: unbalanced comment or quote", name);
}

static void test_golden(void **state)
{
    DIR *d = opendir("ar");
    struct dirent *e;
    int ncase = 0, nfail = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char in[512], outp[512], got[AR_MAX_HEADER + 64], *store, *want;
        struct ar_header h;
        size_t l = strlen(e->d_name);
        int rc;

        if (l < 4 || strcmp(e->d_name + l - 3, ".in") != 0)
            continue;
        snprintf(in, sizeof(in), "ar/%s", e->d_name);
        snprintf(outp, sizeof(outp), "ar/%.*s.out", (int)(l - 3), e->d_name);
        store = calloc(1, MAX_IN);
        assert_int_equal(load_case(in, store, &h), 0);
        want = slurp(outp);
        if (want == NULL)
            fail_msg("%s: missing %s", in, outp);
        memcpy(got, "Authentication-Results: ", 24);
        rc = ar_format_header(&h, "\n\t", got + 24, sizeof(got) - 25);
        if (rc < 0) {
            snprintf(got, sizeof(got), "ERROR\n");
        } else {
            check_shape(in, got + 24);
            memcpy(got + 24 + rc, "\n", 2);
        }
        if (strcmp(got, want) != 0) {
            if (getenv("SA_UPDATE_GOLDEN")) {
                FILE *fp = fopen(outp, "w");
                fputs(got, fp);
                fclose(fp);
            }
            print_error("%s:\ngot:\n%s\nwant:\n%s", in, got, want);
            nfail++;
        }
        free(want);
        free(store);
        ncase++;
    }
    closedir(d);
    if (nfail > 0)
        fail_msg("golden: %d of %d cases differ", nfail, ncase);
    if (ncase < 10)
        fail_msg("golden: got %d cases, want at least 10", ncase);
}

static void test_token(void **state)
{
    static const struct {
        const char *in;
        int want;
    } cases[] = {
        {"a.example", 1},
        {"mx-1.example.jp", 1},
        {"_dmarc.x", 1},
        {"AbCd+123", 1},
        {"", 0},
        {"a b", 0},
        {"a;b", 0},
        {"a(b", 0},
        {"ab/cd", 0},
        {"a=b", 0},
        {"a\"b", 0},
        {"a\r\nb", 0},
        {"\xc3\xa9.example", 0},
        {"user@example", 0},
        {"a\tb", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = ar_value_is_token(cases[i].in);
        if (got != cases[i].want)
            fail_msg("ar_value_is_token(\"%s\"): got %d, want %d", cases[i].in, got, cases[i].want);
    }
}

/* Every byte against the sets as the RFCs and ar_format.h spell them: a token has no
 * CTL, space, 8-bit byte or RFC 2045 tspecial; a comment keeps letters, digits and
 * the listed punctuation, turns parentheses into brackets and the rest into a space. */
static void test_byte_classes(void **state)
{
    static const char tspecials[] = "()<>@,;:\\\"/[]?=";
    static const char keep[] = ".,:=_/+-@'!?#%&*<>[]{}|~^$";
    int bad = 0;

    for (int c = 1; c < 256; c++) {
        char one[2] = {(char)c, '\0'}, in[4] = {'a', (char)c, 'b', '\0'}, got[8], want[8];
        int tok = c > 0x20 && c < 0x7f && strchr(tspecials, c) == NULL;
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

        if (ar_value_is_token(one) != tok) {
            print_error("ar_value_is_token(0x%02x): got %d, want %d\n", c, !tok, tok);
            bad++;
        }
        if (alnum || strchr(keep, c) != NULL)
            snprintf(want, sizeof(want), "a%cb", c);
        else
            snprintf(want, sizeof(want), "a%cb", c == '(' ? '[' : c == ')' ? ']' : ' ');
        ar_clean_comment(in, got, sizeof(got));
        if (strcmp(got, want) != 0) {
            print_error("ar_clean_comment(a 0x%02x b): got \"%s\", want \"%s\"\n", c, got, want);
            bad++;
        }
    }
    if (bad > 0)
        fail_msg("%d byte classes differ", bad);
}

/* The fold column, exactly: after "\n\tspf=pass" (column 16) a comment item of n bytes
 * stays on the line while 16 + 1 + n + 1 <= AR_FOLD_COLUMN (one column is kept for a
 * ';'), so n = 60 stays and n = 61 folds; with the fold "\n    " (column 12 after
 * spf=pass) 64 stays and 65 folds. */
static void test_fold_column(void **state)
{
    static const struct {
        const char *fold;
        size_t item; /* bytes of "(reason)" */
        int want_folded;
    } rows[] = {
        {NULL, 60, 0},
        {NULL, 61, 1},
        {"\n    ", 64, 0},
        {"\n    ", 65, 1},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct ar_header h;
        char reason[AR_MAX_REASON + 1], out[512];
        const char *fold = rows[i].fold ? rows[i].fold : "\n\t";
        char want[16];
        int rc, folded;

        memset(reason, 'r', rows[i].item - 2);
        reason[rows[i].item - 2] = '\0';
        ar_header_init(&h, "mx.example");
        ar_header_add(&h, "spf", AUTH_PASS, reason);
        rc = ar_format_header(&h, rows[i].fold, out, sizeof(out));
        assert_true(rc > 0);
        snprintf(want, sizeof(want), "%sspf=pass%s(", fold, fold);
        folded = strstr(out, want) != NULL;
        if (folded != rows[i].want_folded)
            fail_msg("comment of %zu bytes after spf=pass: got %s, want %s\n%s", rows[i].item,
                     folded ? "folded" : "same line", rows[i].want_folded ? "folded" : "same line",
                     out);
    }
}

static void test_small_buffer(void **state)
{
    struct ar_header h;
    char out[16];
    int rc;

    ar_header_init(&h, "mx.example.jp");
    ar_resinfo_prop(ar_header_add(&h, "spf", AUTH_PASS, NULL), "smtp.mailfrom", "a.example");
    rc = ar_format_header(&h, NULL, out, sizeof(out));
    if (rc != -1 || out[0] != '\0')
        fail_msg("16-byte buffer: got rc=%d '%s', want -1 ''", rc, out);
    for (int i = 1; i < AR_MAX_RESINFO; i++)
        assert_non_null(ar_header_add(&h, "dkim", AUTH_PASS, NULL));
    if (ar_header_add(&h, "dkim", AUTH_PASS, NULL) != NULL)
        fail_msg("resinfo %d: got a slot, want NULL", AR_MAX_RESINFO + 1);
}

/* test_hostile_fuzz - random bytes in every borrowed field never break the shape */
static void test_hostile_fuzz(void **state)
{
    unsigned int seed = 12345;
    char vals[8][300];
    char out[AR_MAX_HEADER + 1];

    for (int iter = 0; iter < 20000; iter++) {
        struct ar_header h;
        struct ar_resinfo *ri;
        for (int k = 0; k < 8; k++) {
            int len = (int)(rand_r(&seed) % 290);
            for (int j = 0; j < len; j++) {
                int r = rand_r(&seed) % 4;
                vals[k][j] =
                    r == 0 ? (char)(rand_r(&seed) % 256) : "ab.(;\"\\ \r\n=/"[rand_r(&seed) % 13];
                if (vals[k][j] == 0)
                    vals[k][j] = 'z';
            }
            vals[k][len] = '\0';
        }
        ar_header_init(&h, iter % 7 ? "mx.example.jp" : vals[7]);
        ri = ar_header_add(&h, "dkim", AUTH_FAIL, vals[0]);
        ar_resinfo_prop(ri, "header.d", vals[1]);
        ar_resinfo_prop(ri, "header.s", vals[2]);
        ar_resinfo_prop(ri, "header.b", vals[3]);
        ri = ar_header_add(&h, "dmarc", AUTH_PERMERROR, vals[4]);
        ar_resinfo_prop(ri, "header.from", vals[5]);
        ri = ar_header_add(&h, iter % 5 ? "spf" : vals[6], AUTH_PASS, NULL);
        ar_resinfo_prop(ri, "smtp.mailfrom", vals[6]);
        if (ar_format_header(&h, "\n\t", out, sizeof(out)) >= 0)
            check_shape("fuzz", out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_byte_classes),
        cmocka_unit_test(test_fold_column),
        cmocka_unit_test(test_small_buffer),
        cmocka_unit_test(test_hostile_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

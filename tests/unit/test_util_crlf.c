/* test_util_crlf.c - crlf_split: one table of inputs, each fed whole and split at every
 * byte (a CR at the end of one chunk and its LF at the start of the next is one CRLF). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/crlf.h"

struct trace {
    char s[64]; /* content bytes as they are, a CRLF as '|' */
    size_t n;
};

static void on_byte(void *arg, unsigned char c)
{
    struct trace *t = arg;

    if (t->n + 1 < sizeof(t->s))
        t->s[t->n++] = (char)c;
}

static void on_eol(void *arg)
{
    on_byte(arg, '|');
}

static void test_crlf_table(void **state)
{
    static const struct {
        const char *in;
        const char *want; /* with the stream ended: a CR still waiting is not shown */
    } cases[] = {
        {"", ""},
        {"a\r\nb\r\n", "a|b|"},
        {"\r\n\r\n", "||"},
        {"a\nb", "a\nb"},    /* a bare LF is content */
        {"a\rb", "a\rb"},    /* a bare CR is content */
        {"a\r\r\n", "a\r|"}, /* CR CR LF: content CR, then CRLF */
        {"a\r", "a"},        /* a trailing CR waits */
        {" \t\r\n", " \t|"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].in);

        for (size_t cut = 0; cut <= len; cut++) {
            struct trace t = {{0}, 0};
            int cr = 0;

            crlf_split(&cr, (const unsigned char *)cases[i].in, cut, &t, on_byte, on_eol);
            crlf_split(&cr, (const unsigned char *)cases[i].in + cut, len - cut, &t, on_byte,
                       on_eol);
            t.s[t.n] = '\0';
            if (strcmp(t.s, cases[i].want) != 0)
                fail_msg("case %zu cut at %zu: got \"%s\", want \"%s\"", i, cut, t.s,
                         cases[i].want);
        }
    }
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crlf_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_bimi_svg.c - the SVG Tiny PS safety rules: one table of documents, each accepted
 * or refused with the reason's first words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bimi/bimi.h"

#define HEAD                                                                                       \
    "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" "      \
    "version=\"1.2\" baseProfile=\"tiny-ps\" viewBox=\"0 0 10 10\"><title>B</title>"
#define TAIL "</svg>"

static const struct {
    const char *name, *svg, *reason; /* reason NULL = accepted */
} cases[] = {
    {"good", "<?xml version=\"1.0\"?>\n" HEAD "<circle cx=\"5\" cy=\"5\" r=\"4\"/>" TAIL, NULL},
    {"fragment use", HEAD "<defs><g id=\"a\"/></defs><use xlink:href=\"#a\"/>" TAIL, NULL},
    {"fragment fill", HEAD "<rect fill=\"url(#g)\" width=\"1\" height=\"1\"/>" TAIL, NULL},
    {"script", HEAD "<script>alert(1)</script>" TAIL, "forbidden element script"},
    {"SCRIPT upper case", HEAD "<SCRIPT>alert(1)</SCRIPT>" TAIL, "forbidden element script"},
    {"script-like name", HEAD "<scriptircle r=\"1\"/>" TAIL, NULL},
    {"xhtml script", HEAD "<h:script xmlns:h=\"http://www.w3.org/1999/xhtml\">x()</h:script>" TAIL,
     "element script outside the SVG namespace"},
    {"no namespace element", HEAD "<g xmlns=\"\"/>" TAIL, "element g outside the SVG namespace"},
    {"foreignObject", HEAD "<foreignObject/>" TAIL, "forbidden element foreignObject"},
    {"animate", HEAD "<animate attributeName=\"r\"/>" TAIL, "forbidden element animate"},
    {"set", HEAD "<set attributeName=\"r\"/>" TAIL, "forbidden element set"},
    {"image", HEAD "<image xlink:href=\"#x\"/>" TAIL, "forbidden element image"},
    {"link", HEAD "<a xlink:href=\"#x\"/>" TAIL, "forbidden element a"},
    {"event", HEAD "<circle onclick=\"x()\" r=\"1\"/>" TAIL, "event attribute onclick"},
    {"event on root",
     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.2\" baseProfile=\"tiny-ps\" "
     "onload=\"x()\"><title>B</title></svg>",
     "event attribute onload"},
    {"external href", HEAD "<use xlink:href=\"https://evil.example/x.svg#a\"/>" TAIL,
     "external reference in href"},
    {"external url()", HEAD "<rect fill=\"url(https://evil.example/p)\"/>" TAIL,
     "external reference in fill"},
    {"style import", HEAD "<style>@import url(https://evil.example/c.css);</style>" TAIL,
     "external reference in style"},
    {"javascript", HEAD "<rect style=\"fill:red;background:javascript:x\"/>" TAIL,
     "external reference in style"},
    /* A style sheet is the concatenation of its text: a comment must not split a word. */
    {"style import split by comment",
     HEAD "<style>@im<!-- -->port \"https://evil.example/c.css\";</style>" TAIL,
     "external reference in style"},
    {"style url split by comment",
     HEAD "<style>rect{fill:ur<!-- -->l(https://evil.example/p)}</style>" TAIL,
     "external reference in style"},
    {"style url split by CDATA",
     HEAD "<style>rect{fill:ur<![CDATA[l(https://evil.example/p)]]>}</style>" TAIL,
     "external reference in style"},
    /* CSS escapes spell url( and @import without those letters (CSS Syntax 4.3.7). */
    {"style escaped import", HEAD "<style>@\\69mport \"https://evil.example/c.css\";</style>" TAIL,
     "external reference in style"},
    {"style escaped url", HEAD "<style>rect{fill:u\\72l(https://evil.example/p)}</style>" TAIL,
     "external reference in style"},
    {"attribute escaped url", HEAD "<rect style=\"fill:u\\72l(https://evil.example/p)\"/>" TAIL,
     "external reference in style"},
    /* image-set() takes a URL as a plain string, without url(). */
    {"style image-set",
     HEAD "<style>svg{background:image-set(\"https://evil.example/p\" 1x)}</style>" TAIL,
     "external reference in style"},
    {"attribute webkit image-set",
     HEAD "<rect style=\"background:-webkit-image-set('https://evil.example/p' 1x)\"/>" TAIL,
     "external reference in style"},
    {"style fragment url", HEAD "<style>rect{fill:url(#g)}</style>" TAIL, NULL},
    {"empty style", HEAD "<style/>" TAIL, NULL},
    {"pi", "<?xml-stylesheet href=\"https://evil.example/s.css\"?>" HEAD TAIL,
     "processing instruction"},
    {"doctype entity", "<!DOCTYPE svg [<!ENTITY a \"aaaa\">]>" HEAD "<text>&a;</text>" TAIL,
     "SVG has a document type declaration"},
    {"not xml", "<svg", "SVG is not well-formed XML"},
    {"not svg ns", "<svg version=\"1.2\" baseProfile=\"tiny-ps\"><title>B</title></svg>",
     "element svg outside the SVG namespace"},
    {"html root", "<html xmlns=\"http://www.w3.org/2000/svg\"/>", "root is not an SVG"},
    {"full profile",
     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.2\" baseProfile=\"full\">"
     "<title>B</title></svg>",
     "baseProfile is not tiny-ps"},
    {"version 1.1",
     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" baseProfile=\"tiny-ps\">"
     "<title>B</title></svg>",
     "version is not 1.2"},
    {"x on root",
     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.2\" baseProfile=\"tiny-ps\" x=\"1\">"
     "<title>B</title></svg>",
     "x or y on the svg element"},
    {"no title",
     "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.2\" baseProfile=\"tiny-ps\"/>",
     "no title element"},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[128] = "";
        int rc =
            bimi_svg_check(cases[i].svg, strlen(cases[i].svg), BIMI_SVG_LIMIT, why, sizeof(why));
        const char *want = cases[i].reason;

        if (want == NULL && rc != 0)
            fail_msg("%s: bimi_svg_check: got -1 (%s), want 0", cases[i].name, why);
        if (want != NULL && (rc == 0 || strncmp(why, want, strlen(want)) != 0))
            fail_msg("%s: bimi_svg_check: got %d (%s), want -1 (%s)", cases[i].name, rc, why, want);
    }
}

/* The size limit: the caller's max and the 32 KB ceiling. */
static void test_size(void **state)
{
    size_t n = BIMI_SVG_LIMIT + 100;
    char *big = malloc(n + 1), why[128];
    const char *good = HEAD TAIL;
    int rc;

    (void)state;
    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, good, strlen(good));
    big[n] = '\0';
    rc = bimi_svg_check(big, n, n, why, sizeof(why));
    if (rc == 0 || strcmp(why, "SVG too large") != 0)
        fail_msg("over the ceiling: got %d (%s), want -1 (SVG too large)", rc, why);
    rc = bimi_svg_check(good, strlen(good), 100, why, sizeof(why));
    if (rc == 0)
        fail_msg("over the caller's max 100: got 0, want -1");
    rc = bimi_svg_check(good, strlen(good), strlen(good), why, sizeof(why));
    if (rc != 0)
        fail_msg("at the caller's max: got -1 (%s), want 0", why);
    free(big);
}

/* NUL bytes: XML allows none, and libxml2 ends the document at the first one, so what
 * follows (a script, found by the fuzzer after a complete <svg>...</svg>) was never
 * checked; a renderer that reads past it could run it. Refused wherever the NUL is. */
static void test_nul(void **state)
{
    static const char after[] = HEAD TAIL "\n\0<script>alert(1)</script>";
    static const char inside[] = HEAD "<title>a\0b</title>" TAIL;
    static const char *const svgs[] = {after, inside};
    static const size_t lens[] = {sizeof(after) - 1, sizeof(inside) - 1};
    char why[128];

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        int rc = bimi_svg_check(svgs[i], lens[i], BIMI_SVG_LIMIT, why, sizeof(why));

        if (rc == 0 || strcmp(why, "SVG contains a NUL byte") != 0)
            fail_msg("case %zu: got %d (%s), want -1 (SVG contains a NUL byte)", i, rc, why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

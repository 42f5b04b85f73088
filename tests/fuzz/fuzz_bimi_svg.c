/* fuzz_bimi_svg.c - libFuzzer target for the SVG Tiny PS safety check
 * (src/bimi/bimi_svg.c, libxml2 underneath) and the logotype walker of the mark
 * certificate check (bimi_cert_logo over DER). Checks: the answer is 0 or -1 with a
 * reason, is deterministic, and an accepted SVG has no script element (in any case) and is within
 * the size limit; a logo found in DER is within its cap and NUL-terminated. Seeds in
 * tests/fuzz/corpus/bimi_svg; dictionary tests/fuzz/fuzz_bimi_svg.dict. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bimi/bimi.h"

/* script_tag - an element named script in any case ("<script" then '>', '/' or space) */
static int script_tag(const char *s, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i++)
        if (s[i] == '<' && strncasecmp(s + i + 1, "script", 6) == 0 &&
            strchr("> /\t\r\n", s[i + 7]) != NULL && s[i + 7] != '\0')
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *svg = malloc(size ? size : 1), why[128], why2[128];
    unsigned char *logo;
    size_t n = 0;
    int rc;

    if (svg == NULL)
        return 0;
    memcpy(svg, data, size);
    rc = bimi_svg_check(svg, size, BIMI_SVG_LIMIT, why, sizeof(why));
    if ((rc != 0 && rc != -1) || (rc == -1 && why[0] == '\0'))
        abort();
    if (bimi_svg_check(svg, size, BIMI_SVG_LIMIT, why2, sizeof(why2)) != rc)
        abort();
    if (rc == 0 && (size > BIMI_SVG_LIMIT || script_tag(svg, size)))
        abort();
    logo = bimi_cert_logo(data, size, 4096, &n);
    if (logo != NULL && (n > 4096 || logo[n] != '\0'))
        abort();
    free(logo);
    free(svg);
    return 0;
}

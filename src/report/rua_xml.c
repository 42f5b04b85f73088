/* rua_xml.c - the RFC 9990 aggregate report XML (namespace urn:ietf:params:xml:ns:
 * dmarc-2.0): feedback, version, report_metadata, policy_published, one record per
 * group of history rows. The element order follows the schema's sequences.
 * Owns the XML text; not the grouping (store_history.c) nor the delivery (deliver.c).
 * Threads: reentrant (writes only to the caller's FILE). */
#include <stdio.h>
#include <string.h>

#include "report/report.h"

static int elem(FILE *fp, const char *indent, const char *name, const char *text);
static int dkim_words(FILE *fp, const char *dkim);

/* rua_xml_text - see report.h */
int rua_xml_text(FILE *fp, const char *s)
{
    for (; s != NULL && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int rc;

        if (ch == '&')
            rc = fputs("&amp;", fp);
        else if (ch == '<')
            rc = fputs("&lt;", fp);
        else if (ch == '>')
            rc = fputs("&gt;", fp);
        else if (ch == '"')
            rc = fputs("&quot;", fp);
        else if (ch == '\'')
            rc = fputs("&apos;", fp);
        else if (ch < 0x20 && ch != '\t')
            continue;
        else
            rc = putc(ch, fp);
        if (rc == EOF)
            return -1;
    }
    return 0;
}

/* elem - <name>text</name> on its own line */
static int elem(FILE *fp, const char *indent, const char *name, const char *text)
{
    if (fprintf(fp, "%s<%s>", indent, name) < 0 || rua_xml_text(fp, text) < 0 ||
        fprintf(fp, "</%s>\n", name) < 0)
        return -1;
    return 0;
}

/* rua_xml_begin - see report.h */
int rua_xml_begin(FILE *fp, const struct report_meta *m, const struct store_hist_policy *p)
{
    int rc = 0;

    rc |= fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<feedback xmlns=\"" REPORT_NS "\">\n"
                      "  <version>1.0</version>\n"
                      "  <report_metadata>\n") < 0;
    rc |= elem(fp, "    ", "org_name", m->org_name);
    rc |= elem(fp, "    ", "email", m->email);
    rc |= elem(fp, "    ", "report_id", m->report_id);
    rc |= fprintf(fp,
                  "    <date_range>\n      <begin>%lld</begin>\n      <end>%lld</end>\n"
                  "    </date_range>\n",
                  m->begin, m->end) < 0;
    if (m->generator != NULL)
        rc |= elem(fp, "    ", "generator", m->generator);
    rc |= fputs("  </report_metadata>\n  <policy_published>\n", fp) == EOF;
    rc |= elem(fp, "    ", "domain", p->policy_domain);
    rc |= elem(fp, "    ", "p", p->p[0] ? p->p : "none");
    if (p->sp[0])
        rc |= elem(fp, "    ", "sp", p->sp);
    if (p->np[0])
        rc |= elem(fp, "    ", "np", p->np);
    rc |= elem(fp, "    ", "adkim", strcmp(p->adkim, "s") == 0 ? "s" : "r");
    rc |= elem(fp, "    ", "aspf", strcmp(p->aspf, "s") == 0 ? "s" : "r");
    if (strcmp(p->discovery, "psl") == 0 || strcmp(p->discovery, "treewalk") == 0)
        rc |= elem(fp, "    ", "discovery_method", p->discovery);
    rc |= elem(fp, "    ", "testing", p->testing ? "y" : "n");
    rc |= fputs("  </policy_published>\n", fp) == EOF;
    return rc ? -1 : 0;
}

/* dkim_words - one <dkim> per "result:domain:selector" word */
static int dkim_words(FILE *fp, const char *dkim)
{
    char word[STORE_HIST_DKIM_MAX];
    const char *p = dkim, *e;
    int rc = 0;

    while (*p) {
        char *d, *s;
        size_t n;

        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        e = strchr(p, ' ');
        n = e != NULL ? (size_t)(e - p) : strlen(p);
        if (n >= sizeof(word))
            n = sizeof(word) - 1;
        memcpy(word, p, n);
        word[n] = '\0';
        p += n;
        if ((d = strchr(word, ':')) == NULL || (s = strchr(d + 1, ':')) == NULL)
            continue;
        *d++ = '\0';
        *s++ = '\0';
        rc |= fputs("      <dkim>\n", fp) == EOF;
        rc |= elem(fp, "        ", "domain", d);
        rc |= elem(fp, "        ", "selector", s);
        rc |= elem(fp, "        ", "result", word);
        rc |= fputs("      </dkim>\n", fp) == EOF;
    }
    return rc ? -1 : 0;
}

/* rua_xml_record - see report.h */
int rua_xml_record(FILE *fp, const struct store_hist_group *g)
{
    int rc = 0;

    rc |= fputs("  <record>\n    <row>\n", fp) == EOF;
    rc |= elem(fp, "      ", "source_ip", g->source_ip);
    rc |= fprintf(fp, "      <count>%lld</count>\n      <policy_evaluated>\n", g->count) < 0;
    rc |= elem(fp, "        ", "disposition", g->disposition[0] ? g->disposition : "none");
    rc |= elem(fp, "        ", "dkim", g->dkim_aligned ? "pass" : "fail");
    rc |= elem(fp, "        ", "spf", g->spf_aligned ? "pass" : "fail");
    if (g->reason[0]) {
        rc |= fputs("        <reason>\n", fp) == EOF;
        rc |= elem(fp, "          ", "type", g->reason);
        if (g->reason_comment[0])
            rc |= elem(fp, "          ", "comment", g->reason_comment);
        rc |= fputs("        </reason>\n", fp) == EOF;
    }
    rc |= fputs("      </policy_evaluated>\n    </row>\n    <identifiers>\n", fp) == EOF;
    rc |= elem(fp, "      ", "header_from", g->header_from);
    if (g->env_from[0])
        rc |= elem(fp, "      ", "envelope_from", g->env_from);
    rc |= fputs("    </identifiers>\n    <auth_results>\n", fp) == EOF;
    rc |= dkim_words(fp, g->dkim);
    if (g->spf_domain[0]) {
        rc |= fputs("      <spf>\n", fp) == EOF;
        rc |= elem(fp, "        ", "domain", g->spf_domain);
        if (strcmp(g->spf_scope, "mfrom") == 0)
            rc |= elem(fp, "        ", "scope", "mfrom");
        rc |= elem(fp, "        ", "result", g->spf_result);
        rc |= fputs("      </spf>\n", fp) == EOF;
    }
    rc |= fputs("    </auth_results>\n  </record>\n", fp) == EOF;
    return rc ? -1 : 0;
}

/* rua_xml_end - see report.h */
int rua_xml_end(FILE *fp)
{
    return fputs("</feedback>\n", fp) == EOF ? -1 : 0;
}

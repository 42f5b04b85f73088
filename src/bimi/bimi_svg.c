/* bimi_svg.c - the SVG Tiny PS rules that matter for safety (draft-svg-tiny-ps-abrotman):
 * a logo shown in a mail client must not run code, reach the network or hide content.
 * libxml2 parses (no network, no entity substitution, no DTD loading); this file walks
 * the tree and refuses scripts, event handlers, animation, foreignObject, images,
 * links, external references and style sheets that import.
 * Owns the rule list; not where the SVG came from.
 * Threads: reentrant after the one-time xmlInitParser (pthread_once). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "bimi/bimi.h"
#include "util/xalloc.h"

#define SVG_NS "http://www.w3.org/2000/svg"
#define SVG_MAX_DEPTH 64     /* nesting deeper than any logo needs */
#define SVG_MAX_NODES 100000 /* elements and attributes walked */

struct walk {
    int nodes;
    char *reason;
    size_t reasonlen;
};

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static const char *const bad_elements[] = {"script",
                                           "foreignObject",
                                           "animate",
                                           "animateMotion",
                                           "animateColor",
                                           "animateTransform",
                                           "set",
                                           "discard",
                                           "image",
                                           "video",
                                           "audio",
                                           "iframe",
                                           "handler",
                                           "listener",
                                           "a",
                                           "embed",
                                           "object",
                                           "canvas",
                                           "feImage",
                                           NULL};

static void xml_init(void);
static int value_ok(const char *v);
static int style_ok(xmlNode *n);
static int check_attrs(struct walk *w, xmlNode *n);
static int check_node(struct walk *w, xmlNode *n, int depth);

static void xml_init(void)
{
    xmlInitParser();
}

/* value_ok - an attribute or style text without url() other than url(#...), without
 * @import, without image-set() (whose URLs may be plain strings, CSS Images 4), without
 * a javascript: scheme and without a CSS escape (a backslash), which would spell url(
 * or @import in other letters (u\72l(, @\69mport) */
static int value_ok(const char *v)
{
    const char *p = v;

    if (strcasestr(v, "javascript:") != NULL || strcasestr(v, "@import") != NULL ||
        strcasestr(v, "image-set(") != NULL || strchr(v, '\\') != NULL)
        return 0;
    while ((p = strcasestr(p, "url(")) != NULL) {
        p += 4;
        while (*p == ' ' || *p == '\t' || *p == '\'' || *p == '"')
            p++;
        if (*p != '#')
            return 0;
    }
    return 1;
}

/* style_ok - the text of a style element, joined (comments left out, as CSS sees it),
 * passes value_ok; 0 also when it cannot be read */
static int style_ok(xmlNode *n)
{
    xmlChar *css = xmlNodeGetContent(n);
    int ok = css != NULL && value_ok((const char *)css);

    xmlFree(css);
    return ok;
}

/* check_attrs - no on* event attribute; href only to a fragment; values without
 * external url() */
static int check_attrs(struct walk *w, xmlNode *n)
{
    for (xmlAttr *a = n->properties; a != NULL; a = a->next) {
        const char *name = (const char *)a->name;
        xmlChar *v;
        int ok = 1;

        if (++w->nodes > SVG_MAX_NODES)
            return sa_reason(w->reason, w->reasonlen, "%s", "too many nodes");
        if (strncasecmp(name, "on", 2) == 0)
            return sa_reason(w->reason, w->reasonlen, "event attribute %.40s", name);
        if ((v = xmlNodeGetContent((xmlNode *)a)) == NULL)
            continue;
        if (strcasecmp(name, "href") == 0 && v[0] != '#')
            ok = 0;
        else if (!value_ok((const char *)v))
            ok = 0;
        xmlFree(v);
        if (!ok)
            return sa_reason(w->reason, w->reasonlen, "external reference in %.40s", name);
    }
    return 0;
}

/* check_node - one element and its subtree */
static int check_node(struct walk *w, xmlNode *n, int depth)
{
    if (depth > SVG_MAX_DEPTH)
        return sa_reason(w->reason, w->reasonlen, "%s", "nested too deeply");
    for (; n != NULL; n = n->next) {
        if (++w->nodes > SVG_MAX_NODES)
            return sa_reason(w->reason, w->reasonlen, "%s", "too many nodes");
        switch (n->type) {
        case XML_ELEMENT_NODE:
            /* Only SVG elements; names compared case-insensitively in case the SVG is
             * ever read by an HTML parser, which folds case. */
            if (n->ns == NULL || strcmp((const char *)n->ns->href, SVG_NS) != 0)
                return sa_reason(w->reason, w->reasonlen, "element %.40s outside the SVG namespace",
                                 (const char *)n->name);
            for (int i = 0; bad_elements[i] != NULL; i++)
                if (strcasecmp((const char *)n->name, bad_elements[i]) == 0)
                    return sa_reason(w->reason, w->reasonlen, "forbidden element %s",
                                     bad_elements[i]);
            if (check_attrs(w, n) < 0 || check_node(w, n->children, depth + 1) < 0)
                return -1;
            /* The style sheet as a CSS parser reads it: all its text joined, so a
             * comment or CDATA section cannot split "@import" or "url(" in two. */
            if (strcmp((const char *)n->name, "style") == 0 && !style_ok(n))
                return sa_reason(w->reason, w->reasonlen, "%s", "external reference in style");
            break;
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            break;
        case XML_COMMENT_NODE:
            break;
        case XML_PI_NODE:
            return sa_reason(w->reason, w->reasonlen, "processing instruction %.40s",
                             (const char *)n->name);
        case XML_ENTITY_REF_NODE:
        case XML_ENTITY_NODE:
        case XML_ENTITY_DECL:
            return sa_reason(w->reason, w->reasonlen, "%s", "entity reference");
        default:
            return sa_reason(w->reason, w->reasonlen, "%s", "unexpected node");
        }
    }
    return 0;
}

/* bimi_svg_check - see bimi.h */
int bimi_svg_check(const char *svg, size_t len, size_t max, char *reason, size_t reasonlen)
{
    struct walk w = {0, reason, reasonlen};
    xmlDoc *doc;
    xmlNode *root;
    xmlChar *bp = NULL, *ver = NULL;
    int rc = -1, has_title = 0;

    reason[0] = '\0';
    if (len > max || len > BIMI_SVG_LIMIT)
        return sa_reason(reason, reasonlen, "%s", "SVG too large");
    if (memchr(svg, '\0', len) != NULL) /* not XML; libxml2 would stop reading there */
        return sa_reason(reason, reasonlen, "%s", "SVG contains a NUL byte");
    pthread_once(&xml_once, xml_init);
    doc = xmlReadMemory(svg, (int)len, "logo.svg", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                            XML_PARSE_NOCDATA);
    if (doc == NULL)
        return sa_reason(reason, reasonlen, "%s", "SVG is not well-formed XML");
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        sa_reason(reason, reasonlen, "%s", "SVG has a document type declaration");
        goto out;
    }
    if (check_node(&w, doc->children, 0) < 0)
        goto out;
    root = xmlDocGetRootElement(doc);
    if (root == NULL || strcmp((const char *)root->name, "svg") != 0 || root->ns == NULL ||
        strcmp((const char *)root->ns->href, SVG_NS) != 0) {
        sa_reason(reason, reasonlen, "%s", "root is not an SVG svg element");
        goto out;
    }
    bp = xmlGetProp(root, (const xmlChar *)"baseProfile");
    ver = xmlGetProp(root, (const xmlChar *)"version");
    if (bp == NULL || strcmp((const char *)bp, "tiny-ps") != 0) {
        sa_reason(reason, reasonlen, "%s", "baseProfile is not tiny-ps");
        goto out;
    }
    if (ver == NULL || strcmp((const char *)ver, "1.2") != 0) {
        sa_reason(reason, reasonlen, "%s", "version is not 1.2");
        goto out;
    }
    if (xmlHasProp(root, (const xmlChar *)"x") || xmlHasProp(root, (const xmlChar *)"y")) {
        sa_reason(reason, reasonlen, "%s", "x or y on the svg element");
        goto out;
    }
    for (xmlNode *c = root->children; c != NULL; c = c->next)
        has_title |= c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "title") == 0;
    if (!has_title) {
        sa_reason(reason, reasonlen, "%s", "no title element");
        goto out;
    }
    rc = 0;
out:
    xmlFree(bp);
    xmlFree(ver);
    xmlFreeDoc(doc);
    return rc;
}

/* conf_seal.c - the ARC sealing keys (arc.seal_*): the checks that span them and the
 * private key file, read once per load (start, -t, each reload) into the conf, so that
 * a bad key is a configuration error with its file and line, and a reload that cannot
 * read the key keeps the running configuration.
 * Owns reading and checking the key and freeing it with the conf; not signing
 * (src/arc/arc_seal.c) nor the key table (conf_keys.c).
 * Threads: runs while a conf is loaded (reentrant); the key is then only read. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "conf_keys.h"

#define SEAL_MIN_RSA_BITS 1024 /* RFC 8301 3.2 (signers SHOULD use 2048) */

static int need(const char *value, const char *key, config_t *cf, const struct conf_src *src,
                struct conf_errors *errs);
static int headers_clash(const struct sa_conf *c, config_t *cf, const struct conf_src *src,
                         struct conf_errors *errs);
static int name_in_list(const char *list, const char *name);

/* need - a key that must not be empty while sealing is on */
static int need(const char *value, const char *key, config_t *cf, const struct conf_src *src,
                struct conf_errors *errs)
{
    if (value != NULL && value[0] != '\0')
        return 0;
    conf_err_add(errs, 0, conf_setting_loc(config_lookup(cf, key), src), key,
                 "must be set when arc.seal_enable is true");
    return -1;
}

/* name_in_list - name is one of the ':'-separated names of list (case-insensitive) */
static int name_in_list(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list; *p;) {
        size_t w = strcspn(p, ":");
        if (w == n && strncasecmp(p, name, n) == 0)
            return 1;
        p += w + (p[w] == ':');
    }
    return 0;
}

/* headers_clash - arc.seal_headers may not name a field senderauthd adds or removes
 * under a configured name (the fixed ones are refused by the key's own check) */
static int headers_clash(const struct sa_conf *c, config_t *cf, const struct conf_src *src,
                         struct conf_errors *errs)
{
    const char *const names[] = {c->headers_trust_name, c->headers_warning_name,
                                 c->headers_trustmark_name, c->quarantine_header_name};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i] != NULL && c->arc_seal_headers != NULL &&
            name_in_list(c->arc_seal_headers, names[i])) {
            conf_err_add(errs, 0, conf_setting_loc(config_lookup(cf, "arc.seal_headers"), src),
                         "arc.seal_headers", "%s: senderauthd changes this field after signing",
                         names[i]);
            return -1;
        }
    }
    return 0;
}

/* conf_seal_load - see conf_keys.h */
int conf_seal_load(struct sa_conf *c, config_t *cf, const struct conf_src *src,
                   struct conf_errors *errs)
{
    struct conf_loc where = conf_setting_loc(config_lookup(cf, "arc.seal_key_file"), src);
    FILE *fp;
    EVP_PKEY *k;
    int id;

    if (!c->arc_seal_enable)
        return 0;
    if (!c->arc_enable) {
        conf_err_add(errs, 0, conf_setting_loc(config_lookup(cf, "arc.seal_enable"), src),
                     "arc.seal_enable",
                     "needs arc.enable = true (the seal states the chain status)");
        return -1;
    }
    /* every missing key is named, not only the first */
    if ((need(c->arc_seal_domain, "arc.seal_domain", cf, src, errs) |
         need(c->arc_seal_selector, "arc.seal_selector", cf, src, errs) |
         need(c->arc_seal_key_file, "arc.seal_key_file", cf, src, errs) |
         headers_clash(c, cf, src, errs)) < 0)
        return -1;
    if ((fp = fopen(c->arc_seal_key_file, "r")) == NULL) {
        conf_err_add(errs, 0, where, "arc.seal_key_file", "%s: %s", c->arc_seal_key_file,
                     strerror(errno));
        return -1;
    }
    k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    ERR_clear_error();
    if (k == NULL) {
        conf_err_add(errs, 0, where, "arc.seal_key_file", "%s: not a PEM private key",
                     c->arc_seal_key_file);
        return -1;
    }
    id = EVP_PKEY_get_base_id(k);
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
        conf_err_add(errs, 0, where, "arc.seal_key_file", "%s: must be an RSA or Ed25519 key",
                     c->arc_seal_key_file);
        EVP_PKEY_free(k);
        return -1;
    }
    if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(k) < SEAL_MIN_RSA_BITS) {
        conf_err_add(errs, 0, where, "arc.seal_key_file",
                     "%s: RSA key of %d bits, at least %d needed (RFC 8301)", c->arc_seal_key_file,
                     EVP_PKEY_get_bits(k), SEAL_MIN_RSA_BITS);
        EVP_PKEY_free(k);
        return -1;
    }
    c->arc_seal_key = k;
    return 0;
}

/* conf_seal_free - see conf_keys.h */
void conf_seal_free(struct sa_conf *c)
{
    EVP_PKEY_free(c->arc_seal_key);
    c->arc_seal_key = NULL;
}

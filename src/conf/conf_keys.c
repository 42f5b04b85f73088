/* conf_keys.c - the one table of configuration keys: type, default, range, field, doc.
 * Owns the list of keys and the string checks that belong to single keys; not the
 * libconfig walk (conf.c), the value parsers (conf_parse.c, cidr.c) or the writers
 * (conf_write.c). Adding a key is one row here plus its field in struct sa_conf;
 * then regenerate conf/senderauth.conf and docs/configuration.md (conf-gen).
 * Threads: constant data and pure functions. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_keys.h"

static int check_owner(const char *s, char *why, size_t whylen);
static int check_user(const char *s, char *why, size_t whylen);
static int check_authserv_id(const char *s, char *why, size_t whylen);
static int check_abs_path(const char *s, char *why, size_t whylen);
static int check_delimiters(const char *s, char *why, size_t whylen);
static int name_ok(const char *s, size_t n);
static int check_domain_modes(const char *s, char *why, size_t whylen);
static int check_template(const char *s, char *why, size_t whylen);
static int check_header_name(const char *s, char *why, size_t whylen);
static int check_word_list(const char *s, char *why, size_t whylen);
static int check_opt_abs_path(const char *s, char *why, size_t whylen);
static int check_x_name(const char *s, char *why, size_t whylen);
static int check_token(const char *s, char *why, size_t whylen);
static int check_text(const char *s, char *why, size_t whylen);
static int check_email(const char *s, char *why, size_t whylen);
static int check_listen(const char *s, char *why, size_t whylen);
static int check_opt_domain(const char *s, char *why, size_t whylen);
static int check_seal_headers(const char *s, char *why, size_t whylen);
static int check_reply(const char *s, char klass, char *why, size_t whylen);
static int check_reply_4xx(const char *s, char *why, size_t whylen);
static int check_reply_5xx(const char *s, char *why, size_t whylen);

static const char *const on_error_names[] = {"accept", "tempfail", NULL};
static const char *const log_level_names[] = {"warning", "info", "debug", NULL};
static const char *const policy_mode_names[] = {"off", "measure", "enforce", NULL};
static const char *const mixed_names[] = {"split", "never", NULL};
static const char *const engine_names[] = {"native", "libmilter", NULL};
static const char *const quarantine_names[] = {"header", "hold", "subaddress", NULL};
static const char *const store_backend_names[] = {"sqlite", "postgresql", NULL};
static const char *const iprev_policy_names[] = {"off", "measure", "tag", "tempfail", "reject",
                                                 NULL};
static const char *const iprev_on_names[] = {"no_ptr", "fail", NULL};
static const char *const iprev_stage_names[] = {"rcpt", "connect", NULL};
static const char *const discovery_names[] = {"psl", "treewalk", NULL};

#define F(field) offsetof(struct sa_conf, field)

/* Grouped by prefix; conf_write_default prints them in this order. */
const struct conf_key conf_keys[] = {
    /* top level */
    {"authserv_id", CONF_T_STRING, "\"\"", 0, 255, F(authserv_id), NULL, check_authserv_id,
     "Name of this receiver in Authentication-Results (RFC 8601 authserv-id); "
     "empty = the host name (gethostname) at load time."},
    {"trusted_networks", CONF_T_CIDRLIST, "[ \"127.0.0.0/8\", \"::1/128\" ]", 0, 1024,
     F(trusted_networks), NULL, NULL,
     "Clients in these networks (IPv4 and IPv6 CIDR, or single addresses) are not checked."},
    {"skip_authenticated", CONF_T_BOOL, "true", 0, 1, F(skip_authenticated), NULL, NULL,
     "Do not check messages from SMTP-authenticated clients (milter macro {auth_authen} set)."},
    {"on_error", CONF_T_ENUM, "\"accept\"", 0, 0, F(on_error), on_error_names, NULL,
     "On an internal error or DNS trouble: \"accept\" (with temperror results) or "
     "\"tempfail\" (4xx, the client retries)."},

    /* milter */
    {"milter.socket", CONF_T_SOCKET, "\"inet:8894@127.0.0.1\"", 0, 0, F(milter_socket), NULL, NULL,
     "Listening socket: \"inet:PORT@ADDR\", \"inet6:PORT@ADDR\" or \"unix:/PATH\" "
     "(Postfix smtpd_milters = inet:127.0.0.1:8894)."},
    {"milter.socket_owner", CONF_T_STRING, "\"\"", 0, 65, F(milter_socket_owner), NULL, check_owner,
     "Owner of a unix socket as \"user:group\", \"user\" or \":group\"; "
     "empty = leave as created."},
    {"milter.socket_mode", CONF_T_MODE, "\"0660\"", 0, 0777, F(milter_socket_mode), NULL, NULL,
     "Permissions of a unix socket, an octal string."},
    {"milter.user", CONF_T_STRING, "\"\"", 0, 32, F(milter_user), NULL, check_user,
     "Drop privileges to this user after opening the socket; empty = keep the current user."},
    {"milter.timeout", CONF_T_INT, "120", 1, 3600, F(milter_timeout), NULL, NULL,
     "Seconds to wait for the MTA on the milter connection."},
    {"milter.engine", CONF_T_ENUM, "\"native\"", 0, 0, F(milter_engine), engine_names, NULL,
     "Milter protocol implementation: \"native\" (senderauthd's own: buffered reads, one "
     "write per reply, no poll per command) or \"libmilter\" (Sendmail's library). Both "
     "serve Postfix and Sendmail alike; a change takes effect at the next restart."},

    /* dns */
    {"dns.nameservers", CONF_T_ADDRLIST, "[ ]", 0, CONF_MAX_NAMESERVERS, F(dns_nameservers), NULL,
     NULL,
     "Up to 3 recursive resolvers: \"ADDR\", \"ADDR:PORT\" or \"[IPv6]:PORT\"; "
     "empty = those of /etc/resolv.conf."},
    {"dns.timeout", CONF_T_INT, "5", 1, 60, F(dns_timeout), NULL, NULL,
     "Seconds to wait for one reply before the next try."},
    {"dns.retries", CONF_T_INT, "2", 1, 10, F(dns_retries), NULL, NULL,
     "Tries per query and server."},
    {"dns.cache_size", CONF_T_INT, "100000", 0, 10000000, F(dns_cache_size), NULL, NULL,
     "Answers kept in the shared cache (entries); 0 = no cache."},
    {"dns.cache_max_ttl", CONF_T_INT, "86400", 0, 604800, F(dns_cache_max_ttl), NULL, NULL,
     "Upper bound in seconds on how long any answer is cached."},
    {"dns.negative_ttl", CONF_T_INT, "300", 0, 86400, F(dns_negative_ttl), NULL, NULL,
     "Seconds to cache NXDOMAIN/NODATA when the reply carries no usable TTL."},
    {"dns.message_deadline", CONF_T_INT, "20", 1, 300, F(dns_message_deadline), NULL, NULL,
     "Seconds of DNS lookups allowed per message, then temperror; keep it below the "
     "MTA's milter timeout (Postfix milter_command_timeout is 30 s)."},
    {"dns.max_queries_per_message", CONF_T_INT, "100", 10, 10000, F(dns_max_queries_per_message),
     NULL, NULL, "DNS queries allowed per message (SPF, DKIM and DMARC together), then temperror."},

    /* psl */
    {"psl.path", CONF_T_STRING, "\"/usr/share/publicsuffix/public_suffix_list.dat\"", 0, 4095,
     F(psl_path), NULL, check_abs_path,
     "Public Suffix List for the DMARC organizational domain; if missing, libpsl's built-in "
     "list is used (a warning)."},

    /* spf */
    {"spf.enable", CONF_T_BOOL, "true", 0, 1, F(spf_enable), NULL, NULL,
     "Check SPF (RFC 7208) for the MAIL FROM identity."},
    {"spf.helo_check", CONF_T_BOOL, "true", 0, 1, F(spf_helo_check), NULL, NULL,
     "Also check the HELO identity and report it as smtp.helo."},
    {"spf.received_spf_header", CONF_T_BOOL, "false", 0, 1, F(spf_received_spf_header), NULL, NULL,
     "Also add a Received-SPF header (RFC 7208 9.1)."},

    /* dkim */
    {"dkim.enable", CONF_T_BOOL, "true", 0, 1, F(dkim_enable), NULL, NULL,
     "Verify DKIM signatures (RFC 6376, RFC 8463)."},
    {"dkim.max_signatures", CONF_T_INT, "5", 1, 50, F(dkim_max_signatures), NULL, NULL,
     "Signatures verified per message; further ones get result policy."},
    {"dkim.min_rsa_bits", CONF_T_INT, "1024", 512, 16384, F(dkim_min_rsa_bits), NULL, NULL,
     "RSA keys shorter than this fail (RFC 8301 requires 1024); Ed25519 is not affected."},

    /* dmarc */
    {"dmarc.enable", CONF_T_BOOL, "true", 0, 1, F(dmarc_enable), NULL, NULL,
     "Evaluate DMARC (RFC 7489) for the RFC 5322 From domain."},
    {"dmarc.tree_walk", CONF_T_BOOL, "false", 0, 1, F(dmarc_tree_walk), NULL, NULL,
     "Find the policy and organizational domain by the DNS tree walk of RFC 9989 instead "
     "of the Public Suffix List."},
    {"dmarc.discovery", CONF_T_ENUM, "\"psl\"", 0, 0, F(dmarc_discovery), discovery_names, NULL,
     "How the policy record and organizational domain are found: \"psl\" (RFC 7489, the "
     "Public Suffix List; the default) or \"treewalk\" (RFC 9989 DNS tree walk, at most 8 "
     "queries). \"treewalk\" is the same as dmarc.tree_walk = true."},

    /* arc, iprev (docs/forwarding.md) */
    {"arc.enable", CONF_T_BOOL, "true", 0, 1, F(arc_enable), NULL, NULL,
     "Verify ARC chains (RFC 8617) and report arc= in Authentication-Results when a message "
     "carries ARC fields."},
    {"arc.trusted_sealers", CONF_T_STRING, "\"\"", 0, 4095, F(arc_trusted_sealers), NULL,
     check_word_list,
     "ARC sealers (ARC-Seal d= domains, exact match) whose ARC-Authentication-Results are "
     "believed, separated by spaces or commas: when DMARC fails, the chain passes and such a "
     "sealer saw dmarc=pass, the DMARC policy is not enforced (reason arc)."},
    {"arc.seal_enable", CONF_T_BOOL, "false", 0, 1, F(arc_seal_enable), NULL, NULL,
     "Add our own ARC set (RFC 8617 5.1: ARC-Authentication-Results = our A-R, "
     "ARC-Message-Signature, ARC-Seal with the verified chain status) to every checked "
     "message, so that the next hop can trust what we saw; needs arc.enable and the three "
     "keys below (docs/forwarding.md)."},
    {"arc.seal_domain", CONF_T_STRING, "\"\"", 0, 253, F(arc_seal_domain), NULL,
     check_opt_domain, "Signing domain (d=) of our ARC sets, e.g. \"mx.isp.example\"."},
    {"arc.seal_selector", CONF_T_STRING, "\"\"", 0, 63, F(arc_seal_selector), NULL,
     check_opt_domain,
     "Selector (s=): the public key is published as TXT at "
     "<selector>._domainkey.<domain> (v=DKIM1; k=rsa or k=ed25519; p=...)."},
    {"arc.seal_key_file", CONF_T_STRING, "\"\"", 0, 4095, F(arc_seal_key_file), NULL,
     check_opt_abs_path,
     "PEM private key (RSA of at least 1024 bits, 2048 recommended, or Ed25519); read at "
     "start and at each reload, so it must be readable by milter.user."},
    {"arc.seal_headers", CONF_T_STRING,
     "\"from:to:cc:subject:date:message-id:reply-to:in-reply-to:references:mime-version:"
     "content-type:content-transfer-encoding:dkim-signature\"",
     1, 1023, F(arc_seal_headers), NULL, check_seal_headers,
     "Header fields signed by our ARC-Message-Signature (h=), names separated by ':'; each "
     "one present is signed (up to 16 of a name). Fields senderauthd adds or removes "
     "(Authentication-Results, ARC-*, Received-SPF, X-Senderauth-*, BIMI-*) cannot be named."},
    {"iprev.enable", CONF_T_BOOL, "false", 0, 1, F(iprev_enable), NULL, NULL,
     "Check that the client address has a PTR name leading back to it (RFC 8601 iprev) and "
     "report iprev= in Authentication-Results."},
    {"iprev.policy", CONF_T_ENUM, "\"off\"", 0, 0, F(iprev_policy), iprev_policy_names, NULL,
     "For clients matched by iprev.policy_on: \"off\" (report only), \"measure\" (log and "
     "count them), \"tag\" (add X-Senderauth-Iprev: fail), \"tempfail\" (iprev.tempfail_reply) "
     "or \"reject\" (iprev.reject_reply), at iprev.stage. Any value but \"off\" also turns the "
     "check on. Trusted networks and authenticated clients are exempt."},
    {"iprev.policy_on", CONF_T_ENUM, "\"no_ptr\"", 0, 0, F(iprev_policy_on), iprev_on_names,
     NULL,
     "Which clients iprev.policy acts on: \"no_ptr\" (the address has no PTR record) or "
     "\"fail\" (every iprev=fail: also PTR names that do not lead back)."},
    {"iprev.stage", CONF_T_ENUM, "\"rcpt\"", 0, 0, F(iprev_stage), iprev_stage_names, NULL,
     "Where tempfail and reject reply: \"rcpt\" (each RCPT TO; authenticated clients are "
     "known there and the MTA logs the recipient) or \"connect\" (the connection; only "
     "trusted networks can be exempted there)."},
    {"iprev.on_temperror", CONF_T_ENUM, "\"accept\"", 0, 0, F(iprev_on_temperror),
     on_error_names, NULL,
     "iprev=temperror (DNS trouble) under tempfail or reject: \"accept\" or \"tempfail\" "
     "(iprev.temperror_reply). It never rejects."},
    {"iprev.tempfail_reply", CONF_T_STRING,
     "\"450 4.7.25 Client host rejected: cannot find your reverse hostname\"", 1, 200,
     F(iprev_tempfail_reply), NULL, check_reply_4xx,
     "Reply for iprev.policy = tempfail: \"4XX 4.X.X text\" (RFC 7372 4.7.25); the client "
     "address is appended as \", [ADDR]\"."},
    {"iprev.reject_reply", CONF_T_STRING,
     "\"550 5.7.25 Client host rejected: cannot find your reverse hostname\"", 1, 200,
     F(iprev_reject_reply), NULL, check_reply_5xx,
     "Reply for iprev.policy = reject: \"5XX 5.X.X text\"; the client address is appended."},
    {"iprev.temperror_reply", CONF_T_STRING,
     "\"451 4.4.3 Client host rejected: reverse DNS lookup failed, try again later\"", 1, 200,
     F(iprev_temperror_reply), NULL, check_reply_4xx,
     "Reply for iprev=temperror with iprev.on_temperror = tempfail: \"4XX 4.X.X text\"; the "
     "client address is appended."},

    /* store (consent flags, docs/consent.md) */
    {"store.backend", CONF_T_ENUM, "\"sqlite\"", 0, 0, F(store_backend), store_backend_names, NULL,
     "Consent store: \"sqlite\" (a local file) or \"postgresql\" (one database shared by "
     "several MTAs)."},
    {"store.sqlite_path", CONF_T_STRING, "\"/var/lib/senderauth/consent.db\"", 0, 4095,
     F(store_sqlite_path), NULL, check_abs_path,
     "SQLite database file; its directory must be writable by senderauthd and senderauthctl "
     "(WAL mode keeps -wal and -shm files next to it)."},
    {"store.pg_conninfo", CONF_T_STRING, "\"\"", 0, 4095, F(store_pg_conninfo), NULL, NULL,
     "PostgreSQL connection string (libpq), e.g. \"host=db.example dbname=senderauth "
     "user=senderauth\"; required when store.backend is \"postgresql\"."},
    {"store.pg_pool_size", CONF_T_INT, "4", 1, 256, F(store_pg_pool_size), NULL, NULL,
     "PostgreSQL connections shared by the milter threads."},
    {"store.busy_timeout_ms", CONF_T_INT, "2000", 0, 60000, F(store_busy_timeout_ms), NULL, NULL,
     "Milliseconds one store query may wait (SQLite busy timeout, PostgreSQL "
     "statement_timeout) before it counts as a store failure."},

    /* policy: consent (docs/consent.md) */
    {"policy.default_enforce", CONF_T_BOOL, "false", 0, 1, F(policy_default_enforce), NULL, NULL,
     "Enforce DMARC for recipients with no address or domain row in the store; false = "
     "opt-in (see docs/consent.md before changing it)."},
    {"policy.subaddress_delimiter", CONF_T_STRING, "\"+\"", 0, 15, F(policy_subaddress_delimiter),
     NULL, check_delimiters,
     "Characters that start a subaddress tag (like Postfix recipient_delimiter): "
     "user+tag@d falls back to user@d; empty = no subaddresses."},
    {"policy.local_part_case_sensitive", CONF_T_BOOL, "false", 0, 1,
     F(policy_local_part_case_sensitive), NULL, NULL,
     "Compare local parts case-sensitively in consent lookups (domains never are)."},

    /* policy: enforcement for consenting recipients (docs/enforcement.md) */
    {"policy.mode", CONF_T_ENUM, "\"off\"", 0, 0, F(policy_mode), policy_mode_names, NULL,
     "\"off\" (no consent lookups), \"measure\" (log would_reject / would_quarantine, act on "
     "nothing) or \"enforce\" (reject / quarantine for recipients who consented)."},
    {"policy.domain_modes", CONF_T_STRING, "\"\"", 0, 4095, F(policy_domain_modes), NULL,
     check_domain_modes,
     "Per recipient domain mode overriding policy.mode: \"DOMAIN=MODE ...\" (MODE off, measure "
     "or enforce), e.g. \"example.jp=enforce example.net=measure\"."},
    {"policy.cache_ttl", CONF_T_INT, "60", 0, 3600, F(policy_cache_ttl), NULL, NULL,
     "Seconds a recipient's consent answer is reused before the store is asked again (a "
     "toggle takes effect within this time); 0 = ask the store for every recipient."},
    {"policy.cache_size", CONF_T_INT, "100000", 16, 10000000, F(policy_cache_size), NULL, NULL,
     "Consent answers kept in the cache; the least recently used go first."},
    {"policy.mixed_recipients", CONF_T_ENUM, "\"split\"", 0, 0, F(policy_mixed_recipients),
     mixed_names, NULL,
     "Consenting and other recipients in one transaction: \"split\" (452 4.5.3 for a later "
     "recipient of the other class; the sender retries it separately) or \"never\" (the "
     "transaction is enforced for nobody)."},
    {"policy.on_temperror", CONF_T_ENUM, "\"accept\"", 0, 0, F(policy_on_temperror),
     on_error_names, NULL,
     "dmarc=temperror for consenting recipients: \"accept\" or \"tempfail\" (451, the "
     "sender retries)."},
    {"policy.reject_template", CONF_T_STRING,
     "\"Message rejected by the DMARC policy (p=%p) of %d\"", 1, 200,
     F(policy_reject_template), NULL, check_template,
     "Text of the 550 5.7.1 reply; %d is the From domain, %p its DMARC policy."},
    {"policy.reject_as_quarantine", CONF_T_BOOL, "false", 0, 1, F(policy_reject_as_quarantine),
     NULL, NULL, "Apply p=reject as quarantine (never reject at end of data)."},
    {"policy.forwarders", CONF_T_CIDRLIST, "[ ]", 0, 4096, F(policy_forwarders), NULL, NULL,
     "Sending networks of known forwarders and mailing lists (CIDR): never enforced."},
    {"policy.list_ids", CONF_T_STRING, "\"\"", 0, 4095, F(policy_list_ids), NULL,
     check_word_list,
     "List-Id values (the part in <>, e.g. \"users.lists.example.org\"), separated by "
     "spaces or commas: messages carrying one are never enforced."},
    {"policy.allow_from_domains", CONF_T_STRING, "\"\"", 0, 4095, F(policy_allow_from_domains),
     NULL, check_word_list,
     "From domains (and their subdomains), separated by spaces or commas, never enforced."},
    {"policy.random_seed", CONF_T_INT, "0", 0, 2147483647, F(policy_random_seed), NULL, NULL,
     "Seed of the pct sampling; 0 = from the clock. A fixed seed is for tests."},

    /* quarantine */
    {"quarantine.action", CONF_T_ENUM, "\"header\"", 0, 0, F(quarantine_action),
     quarantine_names, NULL,
     "How a quarantined message is marked: \"header\" (quarantine.header_name: yes, for "
     "Sieve or the delivery agent), \"hold\" (the MTA's hold queue) or \"subaddress\" "
     "(each consenting recipient becomes local+TAG@domain, quarantine.tag, for the "
     "delivery agent to file; with policy.reject_as_quarantine and on_temperror = "
     "\"accept\", mixed transactions need no split)."},
    {"quarantine.header_name", CONF_T_STRING, "\"X-Senderauth-Quarantine\"", 1, 64,
     F(quarantine_header_name), NULL, check_header_name,
     "Header field added by quarantine.action = \"header\"; copies arriving with the "
     "message are removed."},
    {"quarantine.tag", CONF_T_STRING, "\"quarantine\"", 1, 64, F(quarantine_tag), NULL,
     check_token,
     "Subaddress tag of quarantine.action = \"subaddress\": user@d becomes "
     "user+quarantine@d (the first policy.subaddress_delimiter); a tag the address "
     "already has is replaced."},

    /* lists (docs/webmail-headers.md) */
    {"lists.warning_file", CONF_T_STRING, "\"\"", 0, 4095, F(lists_warning_file), NULL,
     check_opt_abs_path,
     "Warning list: dmarc=fail from these domains gets headers.warning_name for every "
     "recipient, also at p=none (conf/warning-domains.example); empty = no list."},
    {"lists.trustmark_file", CONF_T_STRING, "\"\"", 0, 4095, F(lists_trustmark_file), NULL,
     check_opt_abs_path,
     "Trust-mark list: these domains earn headers.trustmark_name and level=listed when "
     "authenticated (conf/trustmark-domains.example); empty = no list."},
    {"lists.match_orgdomain", CONF_T_BOOL, "false", 0, 1, F(lists_match_orgdomain), NULL, NULL,
     "Also look up the From domain's organizational domain in the lists."},
    {"lists.reload_interval", CONF_T_INT, "60", 0, 86400, F(lists_reload_interval), NULL, NULL,
     "Seconds between checks whether a list file changed (0 = at every message); "
     "SIGUSR1 re-reads the lists at once."},

    /* headers (docs/webmail-headers.md) */
    {"headers.trust_name", CONF_T_STRING, "\"X-Senderauth-Trust\"", 3, 64, F(headers_trust_name),
     NULL, check_x_name, "Trust-level field on every checked message (level=...; from=...)."},
    {"headers.warning_name", CONF_T_STRING, "\"X-Senderauth-Result\"", 3, 64,
     F(headers_warning_name), NULL, check_x_name,
     "Warning field, added when DMARC fails for a listed domain."},
    {"headers.warning_value", CONF_T_STRING, "\"fail\"", 1, 64, F(headers_warning_value), NULL,
     check_token, "Value of the warning field."},
    {"headers.warn_on_enforcing_policy", CONF_T_BOOL, "false", 0, 1,
     F(headers_warn_on_enforcing_policy), NULL, NULL,
     "Also warn on every dmarc=fail whose domain publishes p=quarantine or p=reject, "
     "listed or not."},
    {"headers.trustmark_name", CONF_T_STRING, "\"X-Senderauth-Trustmark\"", 3, 64,
     F(headers_trustmark_name), NULL, check_x_name,
     "Trust-mark field (from=...; basis=dmarc or author-signature)."},

    /* bimi (docs/bimi.md) */
    {"bimi.enable", CONF_T_BOOL, "false", 0, 1, F(bimi_enable), NULL, NULL,
     "Check BIMI (brand logos) for messages that pass DMARC under an enforcing policy: "
     "bimi= in Authentication-Results, BIMI-Location and BIMI-Indicator for the delivery "
     "agent, level=bimi for webmail. Incoming BIMI-Location/BIMI-Indicator are removed."},
    {"bimi.trust_file", CONF_T_STRING, "\"\"", 0, 4095, F(bimi_trust_file), NULL,
     check_opt_abs_path,
     "PEM file of the CA certificates that issue mark certificates (VMC and CMC); "
     "empty = no logo can pass (bimi=temperror)."},
    {"bimi.https_ca_file", CONF_T_STRING, "\"\"", 0, 4095, F(bimi_https_ca_file), NULL,
     check_opt_abs_path,
     "PEM file of the CAs trusted for the HTTPS servers of logos and certificates; "
     "empty = the system's CA store."},
    {"bimi.accept_vmc", CONF_T_BOOL, "true", 0, 1, F(bimi_accept_vmc), NULL, NULL,
     "Accept Verified Mark Certificates (registered or government marks)."},
    {"bimi.accept_cmc", CONF_T_BOOL, "true", 0, 1, F(bimi_accept_cmc), NULL, NULL,
     "Accept Common Mark Certificates (prior-use or modified registered marks)."},
    {"bimi.timeout", CONF_T_INT, "5", 1, 60, F(bimi_timeout), NULL, NULL,
     "Seconds for one message's BIMI check (record lookup and both fetches); when they "
     "run out the result is bimi=temperror and the message goes on."},
    {"bimi.max_svg_bytes", CONF_T_INT, "32768", 1024, 32768, F(bimi_max_svg_bytes), NULL, NULL,
     "Largest logo accepted (SVG Tiny PS; bigger ones fail)."},
    {"bimi.max_cert_bytes", CONF_T_INT, "65536", 4096, 262144, F(bimi_max_cert_bytes), NULL,
     NULL, "Largest mark certificate file accepted (PEM, with its chain)."},
    {"bimi.cache_ttl", CONF_T_INT, "3600", 0, 86400, F(bimi_cache_ttl), NULL, NULL,
     "Seconds a fetched logo or certificate (or a permanent fetch failure) is reused."},
    {"bimi.cache_entries", CONF_T_INT, "256", 0, 1000000, F(bimi_cache_entries), NULL, NULL,
     "Documents kept in the fetch cache (0 = no cache)."},
    {"bimi.indicator", CONF_T_BOOL, "true", 0, 1, F(bimi_indicator), NULL, NULL,
     "Add BIMI-Indicator (the validated SVG, base64) next to BIMI-Location on bimi=pass."},

    /* log */
    {"log.level", CONF_T_ENUM, "\"info\"", 0, 0, F(log_level), log_level_names, NULL,
     "\"warning\", \"info\" (one summary line per message) or \"debug\"."},

    /* metrics (docs/operations.md) */
    {"metrics.listen", CONF_T_STRING, "\"\"", 0, 63, F(metrics_listen), NULL, check_listen,
     "Serve Prometheus metrics at http://ADDR:PORT/metrics, e.g. \"127.0.0.1:9712\" or "
     "\"[::1]:9712\" (numeric, keep it on loopback); empty = no metrics."},

    /* report: DMARC aggregate reports, RFC 9990 (docs/reports.md) */
    {"report.enable", CONF_T_BOOL, "false", 0, 1, F(report_enable), NULL, NULL,
     "Record one history row per evaluated message (no content, no recipients) in the "
     "store, for senderauth-report."},
    {"report.queue_size", CONF_T_INT, "4096", 16, 1000000, F(report_queue_size), NULL, NULL,
     "History rows waiting for the writer thread; when full, new rows are dropped and "
     "counted (mail is never delayed)."},
    {"report.batch_size", CONF_T_INT, "256", 1, 10000, F(report_batch_size), NULL, NULL,
     "History rows written to the store in one transaction."},
    {"report.flush_interval_ms", CONF_T_INT, "1000", 10, 60000, F(report_flush_interval_ms),
     NULL, NULL, "Longest time a history row waits before it is written."},
    {"report.org_name", CONF_T_STRING, "\"\"", 0, 255, F(report_org_name), NULL, check_text,
     "Our organization name in reports (org_name); required by senderauth-report run."},
    {"report.email", CONF_T_STRING, "\"\"", 0, 254, F(report_email), NULL, check_email,
     "Report sender and contact address (email, From:, envelope sender); its domain is the "
     "receiver in report file names. Required by senderauth-report run."},
    {"report.sendmail_path", CONF_T_STRING, "\"/usr/sbin/sendmail\"", 1, 4095,
     F(report_sendmail_path), NULL, check_abs_path,
     "Program that takes a report mail on stdin (sendmail -i -f FROM -- TO)."},
    {"report.verify_external", CONF_T_BOOL, "true", 0, 1, F(report_verify_external), NULL, NULL,
     "Send to a rua address outside the policy domain only when "
     "<domain>._report._dmarc.<rua-domain> authorizes it (RFC 9990 3)."},
    {"report.max_failures", CONF_T_INT, "5", 1, 1000, F(report_max_failures), NULL, NULL,
     "Consecutive delivery failures after which a destination counts as dead."},
    {"report.dead_retry_days", CONF_T_INT, "7", 0, 365, F(report_dead_retry_days), NULL, NULL,
     "Days a dead destination is skipped before one more try (0 = never again)."},
    {"report.retention_days", CONF_T_INT, "31", 0, 3650, F(report_retention_days), NULL, NULL,
     "History older than this is deleted by senderauth-report run (0 = keep)."},
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);

/* conf_key_find - linear search; the table is small */
const struct conf_key *conf_key_find(const char *path)
{
    for (size_t i = 0; i < conf_nkeys; i++)
        if (strcmp(conf_keys[i].path, path) == 0)
            return &conf_keys[i];
    return NULL;
}

/* conf_key_is_group - some key is "group.something" */
int conf_key_is_group(const char *group)
{
    size_t n = strlen(group);

    for (size_t i = 0; i < conf_nkeys; i++)
        if (strncmp(conf_keys[i].path, group, n) == 0 && conf_keys[i].path[n] == '.')
            return 1;
    return 0;
}

/* name_ok - a portable user or group name (POSIX 3.437 plus the usual '-' rule) */
static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 32 || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

/* check_owner - "", "user", "user:group" or ":group" */
static int check_owner(const char *s, char *why, size_t whylen)
{
    const char *colon = strchr(s, ':');

    if (*s == '\0')
        return 0;
    if (colon == NULL ? name_ok(s, strlen(s))
                      : (colon == s || name_ok(s, (size_t)(colon - s))) &&
                            name_ok(colon + 1, strlen(colon + 1))) {
        return 0;
    }
    snprintf(why, whylen, "\"%s\" must be \"user:group\", \"user\" or \":group\"", s);
    return -1;
}

/* check_user - "" or one user name */
static int check_user(const char *s, char *why, size_t whylen)
{
    if (*s == '\0' || name_ok(s, strlen(s)))
        return 0;
    snprintf(why, whylen, "\"%s\" is not a valid user name", s);
    return -1;
}

/* check_authserv_id - "" or a host-name-like RFC 8601 token */
static int check_authserv_id(const char *s, char *why, size_t whylen)
{
    size_t label = 0;

    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_') {
            snprintf(why, whylen, "\"%s\" may contain only letters, digits, '.', '-' and '_'", s);
            return -1;
        }
        if (*p != '.') {
            label++;
        } else if (label == 0) {
            break;
        } else {
            label = 0;
        }
    }
    /* The id must be a host-name-like token: forged headers are recognised by it. */
    if (*s != '\0' && (label == 0 || strstr(s, "..") != NULL)) {
        snprintf(why, whylen, "\"%s\" must be dot-separated non-empty labels (a host name)", s);
        return -1;
    }
    return 0;
}

/* check_delimiters - printable, not a letter, digit, '@', '"' or space */
static int check_delimiters(const char *s, char *why, size_t whylen)
{
    for (const char *p = s; *p; p++) {
        if (!isgraph((unsigned char)*p) || isalnum((unsigned char)*p) || *p == '@' || *p == '"') {
            snprintf(why, whylen, "\"%s\": delimiters must be punctuation other than '@' and '\"'", s);
            return -1;
        }
    }
    return 0;
}

/* check_abs_path - an absolute path */
static int check_abs_path(const char *s, char *why, size_t whylen)
{
    if (s[0] == '/')
        return 0;
    snprintf(why, whylen, "\"%s\" must be an absolute path", s);
    return -1;
}

/* check_domain_modes - "DOMAIN=MODE" words separated by spaces or commas */
static int check_domain_modes(const char *s, char *why, size_t whylen)
{
    const char *p = s;

    while (*p) {
        size_t n, d;
        int ok = 0;

        p += strspn(p, " ,\t");
        if (*p == '\0')
            break;
        n = strcspn(p, " ,\t");
        d = strcspn(p, "=");
        if (d > 0 && d < n) {
            for (int i = 0; policy_mode_names[i]; i++)
                if (strlen(policy_mode_names[i]) == n - d - 1 &&
                    strncasecmp(p + d + 1, policy_mode_names[i], n - d - 1) == 0)
                    ok = 1;
        }
        if (!ok) {
            snprintf(why, whylen,
                     "\"%.*s\" must be DOMAIN=off, DOMAIN=measure or DOMAIN=enforce", (int)n, p);
            return -1;
        }
        p += n;
    }
    return 0;
}

/* check_template - printable text; '%' only in %d and %p */
static int check_template(const char *s, char *why, size_t whylen)
{
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
            snprintf(why, whylen, "must be printable ASCII on one line");
            return -1;
        }
        if (*p == '%') {
            if (p[1] != 'd' && p[1] != 'p') {
                snprintf(why, whylen, "'%%' must be followed by d (From domain) or p (policy)");
                return -1;
            }
            p++;
        }
    }
    return 0;
}

/* check_opt_domain - empty, or a host name: LDH labels of 1..63, at most 253 in all */
static int check_opt_domain(const char *s, char *why, size_t whylen)
{
    size_t label = 0;

    for (const char *p = s; *p; p++) {
        if (*p == '.' && label > 0) {
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)*p) || *p == '-') || ++label > 63) {
            snprintf(why, whylen, "\"%s\" must be a domain name like mx.isp.example", s);
            return -1;
        }
    }
    if (*s != '\0' && label == 0) {
        snprintf(why, whylen, "\"%s\" must be a domain name like mx.isp.example", s);
        return -1;
    }
    return 0;
}

/* check_seal_headers - field names separated by ':', none that senderauthd itself adds or
 * removes at end of message (they would change after signing) */
static int check_seal_headers(const char *s, char *why, size_t whylen)
{
    static const char *const ours[] = {"authentication-results", "received-spf", "arc-",
                                       "x-senderauth-", "bimi-", NULL};
    char name[128];

    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ":");

        if (n == 0 || n >= sizeof(name)) {
            snprintf(why, whylen, "must be header field names separated by ':'");
            return -1;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (check_header_name(name, why, whylen) < 0)
            return -1;
        for (int k = 0; ours[k]; k++) {
            size_t ol = strlen(ours[k]);
            if (ours[k][ol - 1] == '-' ? strncasecmp(name, ours[k], ol) == 0
                                       : strcasecmp(name, ours[k]) == 0) {
                snprintf(why, whylen, "%s: senderauthd changes this field after signing", name);
                return -1;
            }
        }
        p += n;
        if (*p == ':' && *++p == '\0') {
            snprintf(why, whylen, "must not end with ':'");
            return -1;
        }
    }
    return 0;
}

/* check_header_name - RFC 5322 2.2 field name: printable ASCII except ':' */
static int check_header_name(const char *s, char *why, size_t whylen)
{
    if (*s == '\0') {
        snprintf(why, whylen, "must not be empty");
        return -1;
    }
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == ':') {
            snprintf(why, whylen, "\"%s\" is not a header field name", s);
            return -1;
        }
    }
    return 0;
}

/* check_word_list - names (letters, digits, '.', '-', '_') separated by spaces or commas */
static int check_word_list(const char *s, char *why, size_t whylen)
{
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && strchr(".-_ ,\t", *p) == NULL) {
            snprintf(why, whylen, "'%c' is not allowed: names separated by spaces or commas",
                     isprint((unsigned char)*p) ? *p : '?');
            return -1;
        }
    }
    return 0;
}

/* check_opt_abs_path - "" or an absolute path */
static int check_opt_abs_path(const char *s, char *why, size_t whylen)
{
    return *s == '\0' ? 0 : check_abs_path(s, why, whylen);
}

/* check_x_name - a header name senderauthd may own (and remove from incoming mail):
 * "X-" then letters, digits and '-' */
static int check_x_name(const char *s, char *why, size_t whylen)
{
    int ok = (s[0] == 'X' || s[0] == 'x') && s[1] == '-' && s[2] != '\0';

    for (const char *p = s; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '-';
    if (ok)
        return 0;
    snprintf(why, whylen, "\"%s\" must be \"X-\" followed by letters, digits and '-'", s);
    return -1;
}

/* check_token - letters, digits, '-', '_' and '.' */
static int check_token(const char *s, char *why, size_t whylen)
{
    int ok = *s != '\0';

    for (const char *p = s; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
    if (ok)
        return 0;
    snprintf(why, whylen, "\"%s\" may contain only letters, digits, '-', '_' and '.'", s);
    return -1;
}

/* check_listen - "" or "ADDR:PORT" / "[V6ADDR]:PORT" with a numeric address */
static int check_listen(const char *s, char *why, size_t whylen)
{
    char host[64];
    const char *port;
    unsigned char a[16];
    size_t n;
    int ok;

    if (*s == '\0')
        return 0;
    if (s[0] == '[') {
        n = strcspn(s + 1, "]");
        port = s[1 + n] == ']' && s[2 + n] == ':' ? s + n + 3 : NULL;
        ok = port != NULL && n > 0 && n < sizeof(host);
        if (ok) {
            memcpy(host, s + 1, n);
            host[n] = '\0';
            ok = inet_pton(AF_INET6, host, a) == 1;
        }
    } else {
        n = strcspn(s, ":");
        port = s[n] == ':' ? s + n + 1 : NULL;
        ok = port != NULL && n > 0 && n < sizeof(host);
        if (ok) {
            memcpy(host, s, n);
            host[n] = '\0';
            ok = inet_pton(AF_INET, host, a) == 1;
        }
    }
    if (ok) {
        ok = port[0] != '\0' && strspn(port, "0123456789") == strlen(port) && strlen(port) <= 5 &&
             atoi(port) <= 65535;
    }
    if (ok)
        return 0;
    snprintf(why, whylen, "\"%s\" must be \"ADDR:PORT\" or \"[IPv6]:PORT\" (numeric address)", s);
    return -1;
}

/* check_text - one line of printable text (no control characters) */
static int check_text(const char *s, char *why, size_t whylen)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            snprintf(why, whylen, "must not contain control characters");
            return -1;
        }
    return 0;
}

/* check_reply - "DDD C.D.D text": a reply code of class klass, an enhanced status code
 * (RFC 3463) of the same class and a printable text without '%' (libmilter's escape) */
static int check_reply(const char *s, char klass, char *why, size_t whylen)
{
    int ok = s[0] == klass && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
             s[3] == ' ' && s[4] == klass && s[5] == '.';
    const char *p = ok ? s + 6 : s;

    for (int part = 0; ok && part < 2; part++) { /* subject.detail after "DDD C." */
        size_t n = strspn(p, "0123456789");

        ok = n >= 1 && n <= 3 && p[n] == (part == 0 ? '.' : ' ');
        p += n + 1;
    }
    if (ok && *p != '\0' && strchr(p, '%') == NULL && check_text(p, why, whylen) == 0)
        return 0;
    snprintf(why, whylen, "must be \"%cXX %c.X.X text\" (printable, no %%)", klass, klass);
    return -1;
}

static int check_reply_4xx(const char *s, char *why, size_t whylen)
{
    return check_reply(s, '4', why, whylen);
}

static int check_reply_5xx(const char *s, char *why, size_t whylen)
{
    return check_reply(s, '5', why, whylen);
}

/* check_email - "" or local@domain without spaces, control characters, <> or quotes */
static int check_email(const char *s, char *why, size_t whylen)
{
    const char *at = strrchr(s, '@');

    if (*s == '\0')
        return 0;
    if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '.') == NULL ||
        strpbrk(s, " \t<>\"(),;:\\[]") != NULL || check_text(s, why, whylen) < 0) {
        snprintf(why, whylen, "must be an address like dmarc-reports@isp.example");
        return -1;
    }
    return 0;
}

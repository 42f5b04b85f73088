/* test_conf_load.c - config loading: a table of bad configs with the exact messages
 * they must produce (all of them, in line order), and good configs with the values
 * they must load to. Configs are read as strings named "t.conf". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf/conf.h"

#define MAXWANT 8

static const struct bad_case {
    const char *text;
    const char *want[MAXWANT]; /* every error message, in order */
} bad_cases[] = {
    /* unknown keys */
    {"bogus = 1;\n", {"t.conf:1: bogus: unknown key"}},
    {"\ndns = { timout = 5; };\n",
     {"t.conf:2: dns.timout: unknown key (did you mean dns.timeout?)"}},
    {"dns = {\n  cache = { size = 5; };\n};\n", {"t.conf:2: dns.cache: unknown key"}},
    {"spf = 1;\n", {"t.conf:1: spf: must be a group: spf = { ... };"}},
    {"log = [ \"debug\" ];\n", {"t.conf:1: log: must be a group: log = { ... };"}},
    /* wrong types */
    {"dns = { timeout = \"5\"; };\n", {"t.conf:1: dns.timeout: must be an integer"}},
    {"dns = { timeout = 5.0; };\n", {"t.conf:1: dns.timeout: must be an integer"}},
    {"spf = { enable = 1; };\n", {"t.conf:1: spf.enable: must be true or false"}},
    {"authserv_id = mx;\n", {"t.conf:1: syntax error"}},
    {"authserv_id = 5;\n", {"t.conf:1: authserv_id: must be a string in double quotes"}},
    {"trusted_networks = \"10.0.0.0/8\";\n",
     {"t.conf:1: trusted_networks: must be a list of strings: [ \"...\", \"...\" ]"}},
    {"trusted_networks = ( \"10.0.0.0/8\", 5 );\n",
     {"t.conf:1: trusted_networks: entry 2 must be a string in double quotes"}},
    {"dns = { timeout = { }; };\n", {"t.conf:1: dns.timeout: must be an integer"}},
    /* ranges */
    {"dns = { timeout = 61; };\n", {"t.conf:1: dns.timeout: must be 1..60"}},
    {"dns = { timeout = 0; };\n", {"t.conf:1: dns.timeout: must be 1..60"}},
    {"dns = { retries = 11; };\n", {"t.conf:1: dns.retries: must be 1..10"}},
    {"dns = { cache_size = -1; };\n", {"t.conf:1: dns.cache_size: must be 0..10000000"}},
    {"dns = { message_deadline = 5000000000L; };\n",
     {"t.conf:1: dns.message_deadline: must be 1..300"}},
    /* libconfig 1.5 wraps these to 5 and 0 without a word; we read the literal back */
    {"dns = { timeout = 4294967301; };\n", {"t.conf:1: dns.timeout: must be 1..60"}},
    {"dns = { timeout = -4294967291; };\n", {"t.conf:1: dns.timeout: must be 1..60"}},
    {"dns = { retries = 3; timeout = 4294967301; };\n", {"t.conf:1: dns.timeout: must be 1..60"}},
    {"dns = { cache_size = 4294967296; };\n", {"t.conf:1: dns.cache_size: must be 0..10000000"}},
    {"dns = { timeout = 0x100000005; };\n", {"t.conf:1: dns.timeout: must be 1..60"}},
    {"dns = { timeout = 99999999999999999999; };\n", {"t.conf:1: dns.timeout: must be 1..60"}},
    {"dkim = { min_rsa_bits = 256; };\n", {"t.conf:1: dkim.min_rsa_bits: must be 512..16384"}},
    {"on_error = \"reject\";\n",
     {"t.conf:1: on_error: \"reject\" must be one of \"accept\", \"tempfail\""}},
    {"log = { level = \"loud\"; };\n",
     {"t.conf:1: log.level: \"loud\" must be one of \"warning\", \"info\", \"debug\""}},
    {"milter = { socket_mode = \"0669\"; };\n",
     {"t.conf:1: milter.socket_mode: \"0669\" must be an octal mode such as \"0660\""}},
    {"milter = { socket_mode = \"1777\"; };\n",
     {"t.conf:1: milter.socket_mode: \"1777\" must be at most \"0777\""}},
    {"milter = { socket_owner = \"a:b:c\"; };\n",
     {"t.conf:1: milter.socket_owner: \"a:b:c\" must be \"user:group\", \"user\" or \":group\""}},
    {"milter = { user = \"-root\"; };\n",
     {"t.conf:1: milter.user: \"-root\" is not a valid user name"}},
    {"authserv_id = \".\";\n", /* never recognisable as ours in a forged header */
     {"t.conf:1: authserv_id: \".\" must be dot-separated non-empty labels (a host name)"}},
    {"authserv_id = \"mx..example\";\n",
     {"t.conf:1: authserv_id: \"mx..example\" must be dot-separated non-empty labels (a host name)"}},
    {"authserv_id = \"mx example\";\n",
     {"t.conf:1: authserv_id: \"mx example\" may contain only letters, digits, '.', '-' and "
      "'_'"}},
    {"authserv_id = \"mx\\x01\\nx\";\n", /* echoed values stay one printable line */
     {"t.conf:1: authserv_id: \"mx??x\" may contain only letters, digits, '.', '-' and '_'"}},
    {"psl = { path = \"psl.dat\"; };\n",
     {"t.conf:1: psl.path: \"psl.dat\" must be an absolute path"}},
    /* sockets */
    {"milter = { socket = \"inet:99999@127.0.0.1\"; };\n",
     {"t.conf:1: milter.socket: bad socket \"inet:99999@127.0.0.1\": the port must be 1..65535"}},
    {"milter = { socket = \"inet:@127.0.0.1\"; };\n",
     {"t.conf:1: milter.socket: bad socket \"inet:@127.0.0.1\": the port must be 1..65535"}},
    {"milter = { socket = \"tcp:8894\"; };\n",
     {"t.conf:1: milter.socket: bad socket \"tcp:8894\": want \"inet:PORT@ADDR\", "
      "\"inet6:PORT@ADDR\" or \"unix:/PATH\""}},
    {"milter = { socket = \"unix:run/s.sock\"; };\n",
     {"t.conf:1: milter.socket: bad socket \"unix:run/s.sock\": the path must be absolute"}},
    {"milter = { socket = \"inet6:8894@127.0.0.1\"; };\n",
     {"t.conf:1: milter.socket: bad socket \"inet6:8894@127.0.0.1\": \"127.0.0.1\" is not an "
      "IPv6 address"}},
    {"milter = { socket = \"inet:8894@bad_host\"; };\n",
     {"t.conf:1: milter.socket: bad socket \"inet:8894@bad_host\": \"bad_host\" is not an IPv4 "
      "address or host name"}},
    {"milter = { socket = \"unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; };\n",
     {"t.conf:1: milter.socket: bad socket \"unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": "
      "the path is longer than 107 bytes"}},
    /* networks */
    {"trusted_networks = [ \"192.0.2.1/24\" ];\n",
     {"t.conf:1: trusted_networks: bad network \"192.0.2.1/24\": host bits are set (did you "
      "mean 192.0.2.0/24?)"}},
    {"trusted_networks = [ \"2001:db8::1/32\" ];\n",
     {"t.conf:1: trusted_networks: bad network \"2001:db8::1/32\": host bits are set (did you "
      "mean 2001:db8::/32?)"}},
    {"trusted_networks = [ \"10.0.0.0/33\" ];\n",
     {"t.conf:1: trusted_networks: bad network \"10.0.0.0/33\": the prefix length must be 0..32"}},
    {"trusted_networks = [ \"2001:db8::/129\" ];\n",
     {"t.conf:1: trusted_networks: bad network \"2001:db8::/129\": the prefix length must be "
      "0..128"}},
    {"trusted_networks = [ \"10.0.0.0/\" ];\n",
     {"t.conf:1: trusted_networks: bad network \"10.0.0.0/\": want an IPv4 or IPv6 address, "
      "optionally /PREFIX"}},
    {"trusted_networks = [ \"localhost\" ];\n",
     {"t.conf:1: trusted_networks: bad network \"localhost\": want an IPv4 or IPv6 address, "
      "optionally /PREFIX"}},
    {"trusted_networks = [ \"10.0.0.0/8\",\n  \"10.0.0.256\",\n  \"::1\",\n  \"fe80::/x\" ];\n",
     {"t.conf:2: trusted_networks: bad network \"10.0.0.256\": want an IPv4 or IPv6 address, "
      "optionally /PREFIX",
      "t.conf:4: trusted_networks: bad network \"fe80::/x\": want an IPv4 or IPv6 address, "
      "optionally /PREFIX"}},
    /* nameservers */
    {"dns = { nameservers = [ \"1.2.3.4:0\" ]; };\n",
     {"t.conf:1: dns.nameservers: bad nameserver \"1.2.3.4:0\": want \"ADDR\", \"ADDR:PORT\" or "
      "\"[IPv6]:PORT\" with a numeric address and port 1..65535"}},
    {"dns = { nameservers = [ \"[::1:53\" ]; };\n",
     {"t.conf:1: dns.nameservers: bad nameserver \"[::1:53\": want \"ADDR\", \"ADDR:PORT\" or "
      "\"[IPv6]:PORT\" with a numeric address and port 1..65535"}},
    {"dns = { nameservers = [ \"ns.example.net\" ]; };\n",
     {"t.conf:1: dns.nameservers: bad nameserver \"ns.example.net\": want \"ADDR\", "
      "\"ADDR:PORT\" or \"[IPv6]:PORT\" with a numeric address and port 1..65535"}},
    {"dns = { nameservers = [ \"[127.0.0.1]:53\" ]; };\n",
     {"t.conf:1: dns.nameservers: bad nameserver \"[127.0.0.1]:53\": want \"ADDR\", "
      "\"ADDR:PORT\" or \"[IPv6]:PORT\" with a numeric address and port 1..65535"}},
    {"dns = { nameservers = [ \"1.1.1.1\", \"8.8.8.8\", \"9.9.9.9\", \"::1\" ]; };\n",
     {"t.conf:1: dns.nameservers: at most 3 entries, not 4"}},
    /* syntax errors stop libconfig at the first one */
    {"dns = {\n  timeout = 5;\n  retries = ;\n};\n", {"t.conf:3: syntax error"}},
    {"dns = {\n  timeout = 5;\n\n", {"t.conf:4: syntax error"}}, /* at end of input */
    {"a = 1;\nspf = { enable = true; };\nspf = { enable = false; };\n",
     {"t.conf:3: duplicate setting name"}},
    {"trusted_networks = [ \"10.0.0.0/8\", 5 ];\n", {"t.conf:1: mismatched element type in array"}},
    /* several errors together, in line order */
    {"dns = {\n"
     "  timeout = 0;\n"
     "  retries = 11;\n"
     "  bogus = 1;\n"
     "};\n"
     "unknown_top = true;\n"
     "on_error = \"reject\";\n"
     "spf = { enable = 1; };\n"
     "milter = { socket = \"inet:0@x\"; };\n",
     {"t.conf:2: dns.timeout: must be 1..60", "t.conf:3: dns.retries: must be 1..10",
      "t.conf:4: dns.bogus: unknown key", "t.conf:6: unknown_top: unknown key",
      "t.conf:7: on_error: \"reject\" must be one of \"accept\", \"tempfail\"",
      "t.conf:8: spf.enable: must be true or false",
      "t.conf:9: milter.socket: bad socket \"inet:0@x\": the port must be 1..65535"}},
};

/* test_bad - every row fails to load with exactly its messages */
static void test_bad(void **state)
{
    static struct conf_errors errs;
    int failed = 0;

    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        struct sa_conf *c = conf_load_string(bc->text, "t.conf", &errs);
        int nwant = 0;

        while (nwant < MAXWANT && bc->want[nwant])
            nwant++;
        if (c != NULL) {
            print_error("case %zu (%s): got a conf, want %d errors\n", i, bc->text, nwant);
            conf_free(c);
            failed++;
            continue;
        }
        if (errs.nerr != nwant || errs.n != nwant) {
            print_error("case %zu: got %d errors, want %d:\n", i, errs.nerr, nwant);
            conf_errors_print(&errs, stderr);
            failed++;
            continue;
        }
        for (int k = 0; k < nwant; k++) {
            if (strcmp(errs.item[k].text, bc->want[k]) != 0 || errs.item[k].warning) {
                print_error("case %zu message %d:\n got  %s\n want %s\n", i, k, errs.item[k].text,
                            bc->want[k]);
                failed++;
            }
        }
    }
    if (failed)
        fail_msg("%d bad-config cases failed", failed);
}

/* test_good - values land in the right fields, parsed */
static void test_good(void **state)
{
    static struct conf_errors errs;
    const char *text =
        "authserv_id = \"mx.example.net\";\n"
        "trusted_networks = [ \"192.0.2.0/24\", \"2001:db8::/32\", \"10.1.2.3\" ];\n"
        "skip_authenticated = false;\n"
        "on_error = \"TempFail\";\n"
        "milter = {\n"
        "  socket = \"unix:/run/senderauth/milter.sock\";\n"
        "  socket_owner = \"senderauth:postfix\";\n"
        "  socket_mode = \"0600\";\n"
        "  user = \"senderauth\";\n"
        "  timeout = 60;\n"
        "};\n"
        "dns = {\n"
        "  nameservers = ( \"127.0.0.1:5353\", \"[::1]:54\", \"9.9.9.9\" );\n"
        "  timeout = 2; retries = 3; cache_size = 0; cache_max_ttl = 3600;\n"
        "  negative_ttl = 60; message_deadline = 25; max_queries_per_message = 50;\n"
        "};\n"
        "psl = { path = \"/nonexistent/psl.dat\"; };\n"
        "spf = { enable = false; helo_check = false; received_spf_header = true; };\n"
        "dkim = { enable = false; max_signatures = 3; min_rsa_bits = 2048; };\n"
        "dmarc = { enable = false; tree_walk = true; };\n"
        "log = { level = \"debug\"; };\n";
    struct sa_conf *c = conf_load_string(text, "t.conf", &errs);

    if (c == NULL) {
        conf_errors_print(&errs, stderr);
        fail_msg("good config did not load");
    }
    assert_int_equal(errs.nerr, 0);
    assert_int_equal(errs.nwarn, 1);
    assert_string_equal(errs.item[0].text,
                        "t.conf:17: psl.path: /nonexistent/psl.dat: No such "
                        "file or directory; libpsl's built-in list will be used");
    assert_int_equal(errs.item[0].warning, 1);
    assert_string_equal(c->authserv_id, "mx.example.net");
    assert_int_equal(c->trusted_networks.n, 3);
    assert_int_equal(c->trusted_networks.v[2].prefix, 32);
    assert_int_equal(c->trusted_networks.v[1].family, AF_INET6);
    assert_int_equal(c->skip_authenticated, 0);
    assert_int_equal(c->on_error, CONF_ON_ERROR_TEMPFAIL);
    assert_int_equal(c->milter_socket.kind, CONF_SOCK_UNIX);
    assert_string_equal(c->milter_socket.spec, "unix:/run/senderauth/milter.sock");
    assert_string_equal(c->milter_socket.path, "/run/senderauth/milter.sock");
    assert_string_equal(c->milter_socket_owner, "senderauth:postfix");
    assert_int_equal(c->milter_socket_mode, 0600);
    assert_string_equal(c->milter_user, "senderauth");
    assert_int_equal(c->milter_timeout, 60);
    assert_int_equal(c->dns_nameservers.n, 3);
    assert_string_equal(c->dns_nameservers.v[0].addr, "127.0.0.1");
    assert_int_equal(c->dns_nameservers.v[0].port, 5353);
    assert_int_equal(c->dns_nameservers.v[0].family, AF_INET);
    assert_string_equal(c->dns_nameservers.v[1].addr, "::1");
    assert_int_equal(c->dns_nameservers.v[1].port, 54);
    assert_int_equal(c->dns_nameservers.v[1].family, AF_INET6);
    assert_int_equal(c->dns_nameservers.v[2].port, 53);
    assert_int_equal(c->dns_timeout, 2);
    assert_int_equal(c->dns_retries, 3);
    assert_int_equal(c->dns_cache_size, 0);
    assert_int_equal(c->dns_cache_max_ttl, 3600);
    assert_int_equal(c->dns_negative_ttl, 60);
    assert_int_equal(c->dns_message_deadline, 25);
    assert_int_equal(c->dns_max_queries_per_message, 50);
    assert_string_equal(c->psl_path, "/nonexistent/psl.dat");
    assert_int_equal(c->spf_enable, 0);
    assert_int_equal(c->spf_helo_check, 0);
    assert_int_equal(c->spf_received_spf_header, 1);
    assert_int_equal(c->dkim_enable, 0);
    assert_int_equal(c->dkim_max_signatures, 3);
    assert_int_equal(c->dkim_min_rsa_bits, 2048);
    assert_int_equal(c->dmarc_enable, 0);
    assert_int_equal(c->dmarc_tree_walk, 1);
    assert_int_equal(c->log_level, CONF_LOG_DEBUG);
    conf_unref(c);
}

/* Single values: one key set in an otherwise default config. */
static const struct sock_case {
    const char *spec;
    enum conf_sock_kind kind;
    const char *host;
    int port;
    const char *path;
} sock_cases[] = {
    {"inet:8894@127.0.0.1", CONF_SOCK_INET, "127.0.0.1", 8894, ""},
    {"inet:8894", CONF_SOCK_INET, "", 8894, ""},
    {"inet:25@localhost", CONF_SOCK_INET, "localhost", 25, ""},
    {"inet6:8894@::1", CONF_SOCK_INET6, "::1", 8894, ""},
    {"inet6:65535@2001:db8::25", CONF_SOCK_INET6, "2001:db8::25", 65535, ""},
    {"unix:/run/s.sock", CONF_SOCK_UNIX, "", 0, "/run/s.sock"},
    {"local:/var/spool/postfix/senderauth/s", CONF_SOCK_UNIX, "", 0,
     "/var/spool/postfix/senderauth/s"},
};

static void test_sockets(void **state)
{
    static struct conf_errors errs;
    char text[256];

    for (size_t i = 0; i < sizeof(sock_cases) / sizeof(sock_cases[0]); i++) {
        const struct sock_case *sc = &sock_cases[i];
        struct sa_conf *c;

        snprintf(text, sizeof(text), "milter = { socket = \"%s\"; };\n", sc->spec);
        c = conf_load_string(text, "t.conf", &errs);
        if (c == NULL) {
            conf_errors_print(&errs, stderr);
            fail_msg("socket \"%s\": got errors, want none", sc->spec);
        }
        if (c->milter_socket.kind != sc->kind || strcmp(c->milter_socket.host, sc->host) != 0 ||
            c->milter_socket.port != sc->port || strcmp(c->milter_socket.path, sc->path) != 0 ||
            strcmp(c->milter_socket.spec, sc->spec) != 0)
            fail_msg("socket \"%s\": got kind=%d host=%s port=%u path=%s, want %d %s %d %s",
                     sc->spec, c->milter_socket.kind, c->milter_socket.host, c->milter_socket.port,
                     c->milter_socket.path, sc->kind, sc->host, sc->port, sc->path);
        conf_free(c);
    }
}

/* test_int_literals - integer spellings libconfig accepts, and the value they give */
static void test_int_literals(void **state)
{
    static const struct {
        const char *text;
        int want;
    } cases[] = {
        {"dns = { timeout = 7; };\n", 7},
        {"dns = { timeout = 07; };\n", 7}, /* decimal, not octal */
        {"dns = { timeout = 0x1f; };\n", 31},
        {"dns = { timeout = 7L; };\n", 7},
        {"dns = { timeout = +7; };\n", 7},
        {"dns = { timeout: 7 };\n", 7},
        {"dns = {\n  retries = 3;  timeout   =\t9; # comment 4294967301\n};\n", 9},
        {"dns = { timeout =\n 8; };\n", 8}, /* the literal is not on the key's line */
    };
    static struct conf_errors errs;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sa_conf *c = conf_load_string(cases[i].text, "t.conf", &errs);

        if (c == NULL) {
            conf_errors_print(&errs, stderr);
            fail_msg("case %zu: got errors, want dns.timeout = %d", i, cases[i].want);
        }
        if (c->dns_timeout != cases[i].want)
            fail_msg("case %zu: got dns.timeout = %d, want %d", i, c->dns_timeout, cases[i].want);
        conf_free(c);
    }
}

/* test_dump_roundtrip - conf_dump output loads back to the same dump */
static void test_dump_roundtrip(void **state)
{
    static struct conf_errors errs;
    const char *text =
        "authserv_id = \"mx.example.net\";\n"
        "trusted_networks = [ \"192.0.2.0/24\", \"2001:db8::/32\", \"::ffff:10.0.0.0/104\" ];\n"
        "milter = { socket = \"inet6:10025@::1\"; socket_mode = \"640\"; };\n"
        "dns = { nameservers = [ \"127.0.0.1:5353\", \"[::1]:54\", \"::2\" ]; };\n"
        "on_error = \"tempfail\";\n";
    struct sa_conf *a, *b;
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *fp;

    a = conf_load_string(text, "t.conf", &errs);
    assert_non_null(a);
    fp = open_memstream(&t1, &n1);
    assert_int_equal(conf_dump(a, fp), 0);
    fclose(fp);
    b = conf_load_string(t1, "dump", &errs);
    if (b == NULL) {
        conf_errors_print(&errs, stderr);
        fail_msg("dump does not load back:\n%s", t1);
    }
    fp = open_memstream(&t2, &n2);
    assert_int_equal(conf_dump(b, fp), 0);
    fclose(fp);
    /* The first line names the source; the rest must be identical. */
    assert_non_null(strstr(t1, "socket_mode = \"0640\";"));
    assert_non_null(strstr(t1, "nameservers = [ \"127.0.0.1:5353\", \"[::1]:54\", \"::2\" ];"));
    assert_string_equal(strchr(t1, '\n'), strchr(t2, '\n'));
    free(t1);
    free(t2);
    conf_free(a);
    conf_free(b);
}

/* test_defaults - defaults match the table and the documented values */
static void test_defaults(void **state)
{
    struct sa_conf *c = conf_defaults();
    char host[256] = "";

    assert_non_null(c);
    gethostname(host, sizeof(host));
    assert_string_equal(c->authserv_id, host);
    assert_int_equal(c->dns_message_deadline, 20);
    assert_int_equal(c->dkim_max_signatures, 5);
    assert_int_equal(c->dkim_min_rsa_bits, 1024);
    assert_int_equal(c->dmarc_tree_walk, 0);
    assert_int_equal(c->spf_received_spf_header, 0);
    assert_int_equal(c->dns_nameservers.n, 0);
    assert_int_equal(c->on_error, CONF_ON_ERROR_ACCEPT);
    assert_string_equal(c->psl_path, "/usr/share/publicsuffix/public_suffix_list.dat");
    assert_int_equal(c->milter_socket.kind, CONF_SOCK_INET);
    assert_int_equal(c->milter_socket.port, 8894);
    conf_free(c);
}

/* test_errors_print - the printed form, and the cap on kept messages */
static void test_errors_print(void **state)
{
    static struct conf_errors errs;
    char text[8192] = "";
    char *out = NULL;
    size_t n = 0, len = 0;
    FILE *fp;

    for (int i = 0; i < CONF_MAX_ERRORS + 5; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "k%d = 1;\n", i);
    assert_null(conf_load_string(text, "t.conf", &errs));
    assert_int_equal(errs.nerr, CONF_MAX_ERRORS + 5);
    assert_int_equal(errs.n, CONF_MAX_ERRORS);
    assert_int_equal(errs.dropped, 5);
    fp = open_memstream(&out, &n);
    conf_errors_print(&errs, fp);
    fclose(fp);
    assert_non_null(strstr(out, "t.conf:1: k0: unknown key\nt.conf:2: k1: unknown key\n"));
    assert_non_null(strstr(out, "\n(5 more not shown)\n"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_sockets),
        cmocka_unit_test(test_int_literals),
        cmocka_unit_test(test_dump_roundtrip),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

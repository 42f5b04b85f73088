/* test_dkim_bodyhash.c - the streamed DKIM body hash (RFC 6376 3.4.3 simple, 3.4.4
 * relaxed, 3.7 bh=, l=): a table of bodies with their canonical form written by hand and
 * the digest of it (or of its first l= bytes) computed with Python's hashlib; each body
 * is fed whole, byte by byte, and split in two and in three at every position (long
 * bodies: in two), so a CRLF and a run of empty lines fall across chunks. The canonical forms of
 * the bodies that end in CRLF were checked against dkimpy's canonicalization. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dkim/dkim_int.h"

struct bh_case {
    const char *body;
    int relaxed, sha1;
    long long limit;   /* l=, -1 none */
    const char *canon; /* the whole canonical body */
    const char *hex;   /* digest of canon, or of its first limit bytes */
};

static const struct bh_case cases[] = {
    {"", 0, 0, -1, "\r\n", "7eb70257593da06f682a3ddda54a9d260d4fc514f645237f5ca74b08f8da61a6"},
    {"", 1, 0, -1, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"\r\n", 0, 0, -1, "\r\n", "7eb70257593da06f682a3ddda54a9d260d4fc514f645237f5ca74b08f8da61a6"},
    {"\r\n", 1, 0, -1, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"\r\n\r\n\r\n", 0, 0, -1, "\r\n",
     "7eb70257593da06f682a3ddda54a9d260d4fc514f645237f5ca74b08f8da61a6"},
    {"\r\n\r\n\r\n", 0, 1, -1, "\r\n", "ba8ab5a0280b953aa97435ff8946cbcbb2755a27"},
    {"\r\n\r\n\r\n", 0, 0, 0, "\r\n",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"\r\n\r\n\r\n", 0, 0, 7, "\r\n",
     "7eb70257593da06f682a3ddda54a9d260d4fc514f645237f5ca74b08f8da61a6"},
    {"\r\n\r\n\r\n", 0, 0, 1000, "\r\n",
     "7eb70257593da06f682a3ddda54a9d260d4fc514f645237f5ca74b08f8da61a6"},
    {"\r\n\r\n\r\n", 1, 0, -1, "",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"\r\n\r\n\r\n", 1, 1, -1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {"\r\n\r\n\r\n", 1, 0, 0, "",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"\r\n\r\n\r\n", 1, 0, 7, "",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"\r\n\r\n\r\n", 1, 0, 1000, "",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", 0, 0, -1, "abc\r\n",
     "552bab6864c7a7b69a502ed1854b9245c0e1a30f008aaa0b281da62585fdb025"},
    {"abc", 1, 0, -1, "abc\r\n",
     "552bab6864c7a7b69a502ed1854b9245c0e1a30f008aaa0b281da62585fdb025"},
    {"abc\r\n\r\n\r\n", 0, 0, -1, "abc\r\n",
     "552bab6864c7a7b69a502ed1854b9245c0e1a30f008aaa0b281da62585fdb025"},
    {"abc\r\n\r\n\r\n", 1, 0, -1, "abc\r\n",
     "552bab6864c7a7b69a502ed1854b9245c0e1a30f008aaa0b281da62585fdb025"},
    {"a  b \r\n", 0, 0, -1, "a  b \r\n",
     "30a5e534a0e9361af4de32e6a88ef4ffcbec603165ee4ca9feed2331451867b3"},
    {"a  b \r\n", 1, 0, -1, "a b\r\n",
     "4ae1198f28938d4a755c7a46a662f0f5729aca3cb714cae4e37d60b84c4ee9cc"},
    {" \t a\r\n", 0, 0, -1, " \t a\r\n",
     "c30b5fd0b72a60256bc0633c9f1b5e51d8c5d18365a17b96e570a77240feac51"},
    {" \t a\r\n", 0, 1, -1, " \t a\r\n", "51a54d8a194a01439c9a1b60a56b9979f524fcca"},
    {" \t a\r\n", 0, 0, 0, " \t a\r\n",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {" \t a\r\n", 0, 0, 7, " \t a\r\n",
     "c30b5fd0b72a60256bc0633c9f1b5e51d8c5d18365a17b96e570a77240feac51"},
    {" \t a\r\n", 0, 0, 1000, " \t a\r\n",
     "c30b5fd0b72a60256bc0633c9f1b5e51d8c5d18365a17b96e570a77240feac51"},
    {" \t a\r\n", 1, 0, -1, " a\r\n",
     "f97b4fcda3db6d9e52c49c9b28d9b4c3c2966a147754b6db3a60de7a87da49b9"},
    {" \t a\r\n", 1, 1, -1, " a\r\n", "c0c6eb93ce23bcdff01edcedf11b74aa61633b0d"},
    {" \t a\r\n", 1, 0, 0, " a\r\n",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {" \t a\r\n", 1, 0, 7, " a\r\n",
     "f97b4fcda3db6d9e52c49c9b28d9b4c3c2966a147754b6db3a60de7a87da49b9"},
    {" \t a\r\n", 1, 0, 1000, " a\r\n",
     "f97b4fcda3db6d9e52c49c9b28d9b4c3c2966a147754b6db3a60de7a87da49b9"},
    {"a\r\n \r\n\r\n", 0, 0, -1, "a\r\n \r\n",
     "64edc3eeb768089befb1c6bb07243bad6b5d64847fc28d70c85f9e04c8dace04"},
    {"a\r\n \r\n\r\n", 1, 0, -1, "a\r\n",
     "8e4621379786ef42a4fec155cd525c291dd7db3c1fde3478522f4f61c03fd1bd"},
    {"a\r\n  \r\nb\r\n", 0, 0, -1, "a\r\n  \r\nb\r\n",
     "c2dd1e445abbda27bac91430a72b9b7a3eb02bccbf9bddaee7823a6564a7511e"},
    {"a\r\n  \r\nb\r\n", 1, 0, -1, "a\r\n\r\nb\r\n",
     "cc221980ce7d0388d921c5eb188ce1a680f65a14afd012e262790ac4509e827f"},
    {"a\r\n\r\nb\r\n", 0, 0, -1, "a\r\n\r\nb\r\n",
     "cc221980ce7d0388d921c5eb188ce1a680f65a14afd012e262790ac4509e827f"},
    {"a\r\n\r\nb\r\n", 1, 0, -1, "a\r\n\r\nb\r\n",
     "cc221980ce7d0388d921c5eb188ce1a680f65a14afd012e262790ac4509e827f"},
    {"a\rb\r\n", 0, 0, -1, "a\rb\r\n",
     "2f2291ad568eae2eb34fc7c93725966d7d1d26fbcd4150a5cb968262b60d6ac1"},
    {"a\rb\r\n", 1, 0, -1, "a\rb\r\n",
     "2f2291ad568eae2eb34fc7c93725966d7d1d26fbcd4150a5cb968262b60d6ac1"},
    {"abc  ", 0, 0, -1, "abc  \r\n",
     "c11d9546a874542ad395c5f89be85ea61e017458a151b532d07ae4a564115e41"},
    {"abc  ", 1, 0, -1, "abc\r\n",
     "552bab6864c7a7b69a502ed1854b9245c0e1a30f008aaa0b281da62585fdb025"},
    {"abc\r", 0, 0, -1, "abc\r\r\n",
     "dbed0de931a396242815d25db6bad3d8bfab5bcfdf1c04f0d5d93d5b1bfa4dc7"},
    {"abc\r", 1, 0, -1, "abc\r\r\n",
     "dbed0de931a396242815d25db6bad3d8bfab5bcfdf1c04f0d5d93d5b1bfa4dc7"},
    {"x\t\t\ty\r\n\r\n", 0, 0, -1, "x\t\t\ty\r\n",
     "a82d16df95b712a3ab08204e93894ed63362b58d6aa9c1190cc3c931e6ab29f4"},
    {"x\t\t\ty\r\n\r\n", 1, 0, -1, "x y\r\n",
     "d481c512375fb416be81205d8c58a8ce9bdc805a11e0bf9570a0c5ec122a2d7e"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 0, 0, -1,
     "line one\r\n\r\n\r\nline two  with   spaces\t\r\n",
     "ffcc2af85a16868ebbb68418023be05259ae42168440983308e5e3551a9e3c70"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 0, 1, -1,
     "line one\r\n\r\n\r\nline two  with   spaces\t\r\n",
     "f1ca0d35dc37907ca1a23c1ba071d4dad5cecaff"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 0, 0, 0,
     "line one\r\n\r\n\r\nline two  with   spaces\t\r\n",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 0, 0, 7,
     "line one\r\n\r\n\r\nline two  with   spaces\t\r\n",
     "115e1507f9b9d4ff0e366ec1658e269f064f6c5bdc84013173952d880993b33d"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 0, 0, 1000,
     "line one\r\n\r\n\r\nline two  with   spaces\t\r\n",
     "ffcc2af85a16868ebbb68418023be05259ae42168440983308e5e3551a9e3c70"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 1, 0, -1,
     "line one\r\n\r\n\r\nline two with spaces\r\n",
     "f9c46ed7c752ba1dc901d9fb09b38389c7f33bf1613ab2e15371bff76f53b7a1"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 1, 1, -1,
     "line one\r\n\r\n\r\nline two with spaces\r\n", "2bddc2fc1b3e8fce7cffeb1d50a7080cf82a6e76"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 1, 0, 0,
     "line one\r\n\r\n\r\nline two with spaces\r\n",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 1, 0, 7,
     "line one\r\n\r\n\r\nline two with spaces\r\n",
     "115e1507f9b9d4ff0e366ec1658e269f064f6c5bdc84013173952d880993b33d"},
    {"line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n", 1, 0, 1000,
     "line one\r\n\r\n\r\nline two with spaces\r\n",
     "f9c46ed7c752ba1dc901d9fb09b38389c7f33bf1613ab2e15371bff76f53b7a1"},
    {"a\nb\r\n", 0, 0, -1, "a\nb\r\n",
     "09908e5976ef56a1d49699e026f6925c1435ea0a07e73002d0f1e5abe78e8634"},
    {"a\nb\r\n", 1, 0, -1, "a\nb\r\n",
     "09908e5976ef56a1d49699e026f6925c1435ea0a07e73002d0f1e5abe78e8634"},
    {"a \rb\r\n", 0, 0, -1, "a \rb\r\n",
     "27cf929793a65beb30a34266a735eabb2516c2f6e84aac97b6de8b897f3db12b"},
    {"a \rb\r\n", 1, 0, -1, "a \rb\r\n",
     "27cf929793a65beb30a34266a735eabb2516c2f6e84aac97b6de8b897f3db12b"},
    {"\r\n\r\nx\r\n", 0, 0, -1, "\r\n\r\nx\r\n",
     "84797482c9248f729aac1f08cf164790d26e6df3defb04441f92481e782322e5"},
    {"\r\n\r\nx\r\n", 1, 0, -1, "\r\n\r\nx\r\n",
     "84797482c9248f729aac1f08cf164790d26e6df3defb04441f92481e782322e5"},
    {" \r\n", 0, 0, -1, " \r\n",
     "6bdf66b5bf2a44e658bea2ee86695ab150a06e600bf67cd5cce245ad54962c61"},
    {" \r\n", 1, 0, -1, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"a\r\n \t ", 0, 0, -1, "a\r\n \t \r\n",
     "0fc879c3c7a8a686c7854a9035ee7e5730d1bd466237ed0e21b3732a825853aa"},
    {"a\r\n \t ", 1, 0, -1, "a\r\n",
     "8e4621379786ef42a4fec155cd525c291dd7db3c1fde3478522f4f61c03fd1bd"},
    {"hello world\r\n", 0, 0, -1, "hello world\r\n",
     "572a95fee9c0f320030789e4883707affe12482fbb1ea04b3ea8267c87a890fb"},
    {"hello world\r\n", 1, 0, -1, "hello world\r\n",
     "572a95fee9c0f320030789e4883707affe12482fbb1ea04b3ea8267c87a890fb"},
    {"x\r\r\n", 0, 0, -1, "x\r\r\n",
     "fcb2c7e299b483df821a25becfb70d41301b70aa8f139a2c831502a0270eec1a"},
    {"x\r\r\n", 1, 0, -1, "x\r\r\n",
     "fcb2c7e299b483df821a25becfb70d41301b70aa8f139a2c831502a0270eec1a"},
    {"\r\n\r\n \r\n\r\n", 0, 0, -1, "\r\n\r\n \r\n",
     "b26179dbae6f38da5b3e77c5e7cf5f4d2f6eca644c68877e2927b6c22685b82c"},
    {"\r\n\r\n \r\n\r\n", 1, 0, -1, "",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
};

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* run - feed body[0..n) in the chunks cut at a <= b (a == b: two chunks; 0/n: fewer), or
 * byte by byte when bytes; fails unless digest and length are the row's */
static void run(const unsigned char *body, size_t n, const struct bh_case *c, size_t canon_len,
                size_t a, size_t b, int bytes, const char *how)
{
    struct dkim_bodyhash h;
    const unsigned char *md;
    char got[2 * EVP_MAX_MD_SIZE + 1] = "";
    size_t len = 0;
    int i;

    dkim_bodyhash_init(&h);
    i = dkim_bodyhash_want(&h, c->relaxed, c->sha1, c->limit);
    assert_true(i >= 0);
    if (bytes) {
        for (size_t k = 0; k < n; k++)
            dkim_bodyhash_add(&h, body + k, 1);
    } else {
        dkim_bodyhash_add(&h, body, a);
        dkim_bodyhash_add(&h, body + a, b - a);
        dkim_bodyhash_add(&h, body + b, n - b);
    }
    assert_int_equal(dkim_bodyhash_end(&h), 0);
    md = dkim_bodyhash_get(&h, i, &len);
    assert_non_null(md);
    hex(md, len, got);
    if (strcmp(got, c->hex) != 0 || dkim_bodyhash_total(&h, c->relaxed) != canon_len)
        fail_msg("body \"%.40s\" (%zu bytes) %s %s l=%lld fed %s (%zu,%zu): got %s length %llu, "
                 "want %s length %zu",
                 (const char *)body, n, c->relaxed ? "relaxed" : "simple",
                 c->sha1 ? "sha1" : "sha256", c->limit, how, a, b, got,
                 (unsigned long long)dkim_bodyhash_total(&h, c->relaxed), c->hex, canon_len);
    dkim_bodyhash_free(&h);
}

static void test_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const unsigned char *p = (const unsigned char *)cases[i].body;
        size_t n = strlen(cases[i].body), clen = strlen(cases[i].canon);

        run(p, n, &cases[i], clen, n, n, 0, "whole");
        run(p, n, &cases[i], clen, 0, 0, 1, "bytes");
        for (size_t a = 0; a <= n; a++)
            for (size_t b = a; b <= n; b++)
                run(p, n, &cases[i], clen, a, b, 0, "in three");
    }
}

/* Long lines: 300 x, "  y", an empty line, 80 times "word " (the canonical spans of
 * 256 bytes and more go to the digests without the buffer). Canonical lengths and
 * SHA-256 digests from Python (dkimpy's canonicalization agrees). */
static const struct {
    int relaxed;
    long long limit;
    size_t canon_len;
    const char *hex;
} long_cases[] = {
    {0, -1, 709, "21cd98667d3b437c56b5901495d9dbc975da44eed984db27c1b800837eff0d37"},
    {0, 7, 709, "7b70d3ab4c7641542e1f158b458eeae7cfb7bdb815d4110cc6178bafcfdf43f8"},
    {0, 400, 709, "18df35ab82570c441332ba29964c2644655ab6a588ade8b68c21153a845eef9e"},
    {0, 1000, 709, "21cd98667d3b437c56b5901495d9dbc975da44eed984db27c1b800837eff0d37"},
    {1, -1, 707, "7797bd0c9b53e75d5bbe696c740f29cc1a5edeb27d310f716dac568bc342ed23"},
    {1, 7, 707, "7b70d3ab4c7641542e1f158b458eeae7cfb7bdb815d4110cc6178bafcfdf43f8"},
    {1, 400, 707, "dedd9115bcf0803ad956714be43a5fb3aad6c7f4f356b7adfccdd97f806fca56"},
    {1, 1000, 707, "7797bd0c9b53e75d5bbe696c740f29cc1a5edeb27d310f716dac568bc342ed23"},
};

static void test_long(void **state)
{
    unsigned char body[800];
    size_t n = 0;

    memset(body, 'x', 300);
    n = 300;
    memcpy(body + n, "  y\r\n\r\n", 7);
    n += 7;
    for (int i = 0; i < 80; i++, n += 5)
        memcpy(body + n, "word ", 5);
    memcpy(body + n, "\r\n", 2);
    n += 2;
    for (size_t i = 0; i < sizeof(long_cases) / sizeof(long_cases[0]); i++) {
        struct bh_case c = {"", long_cases[i].relaxed, 0, long_cases[i].limit,
                            "", long_cases[i].hex};

        run(body, n, &c, long_cases[i].canon_len, n, n, 0, "whole");
        run(body, n, &c, long_cases[i].canon_len, 0, 0, 1, "bytes");
        for (size_t a = 0; a <= n; a++)
            run(body, n, &c, long_cases[i].canon_len, a, a, 0, "in two");
    }
}

/* test_shared - one hasher, both canonicalizations and several limits at once, as a
 * message with several signatures: each digest matches its own row; equal requests
 * share a digest; a request after the body started is refused */
static void test_shared(void **state)
{
    static const char body[] = "line one\r\n\r\n\r\nline two  with   spaces\t\r\n\r\n";
    const struct bh_case *want[sizeof(cases) / sizeof(cases[0])];
    int idx[sizeof(cases) / sizeof(cases[0])], nwant = 0;
    struct dkim_bodyhash h;

    dkim_bodyhash_init(&h);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strcmp(cases[i].body, body) != 0)
            continue;
        want[nwant] = &cases[i];
        idx[nwant] = dkim_bodyhash_want(&h, cases[i].relaxed, cases[i].sha1, cases[i].limit);
        assert_true(idx[nwant] >= 0);
        assert_int_equal(dkim_bodyhash_want(&h, cases[i].relaxed, cases[i].sha1, cases[i].limit),
                         idx[nwant]);
        nwant++;
    }
    assert_int_equal(nwant, 10);
    assert_int_equal(h.n, 10);
    for (size_t k = 0; k < sizeof(body) - 1; k += 5)
        dkim_bodyhash_add(&h, (const unsigned char *)body + k,
                          sizeof(body) - 1 - k < 5 ? sizeof(body) - 1 - k : 5);
    assert_int_equal(dkim_bodyhash_want(&h, 0, 1, 3), -1);
    assert_int_equal(dkim_bodyhash_end(&h), 0);
    for (int k = 0; k < nwant; k++) {
        size_t len = 0;
        const unsigned char *md = dkim_bodyhash_get(&h, idx[k], &len);
        char got[2 * EVP_MAX_MD_SIZE + 1] = "";

        assert_non_null(md);
        hex(md, len, got);
        if (strcmp(got, want[k]->hex) != 0)
            fail_msg("shared %s %s l=%lld: got %s, want %s",
                     want[k]->relaxed ? "relaxed" : "simple", want[k]->sha1 ? "sha1" : "sha256",
                     want[k]->limit, got, want[k]->hex);
    }
    dkim_bodyhash_free(&h);
}

/* test_count_only - a canonicalization counted for l= but hashed by nobody */
static void test_count_only(void **state)
{
    struct dkim_bodyhash h;

    dkim_bodyhash_init(&h);
    dkim_bodyhash_count(&h, 1);
    dkim_bodyhash_add(&h, (const unsigned char *)"a  b \r\n\r\n", 9);
    assert_int_equal(dkim_bodyhash_end(&h), 0);
    assert_int_equal(dkim_bodyhash_total(&h, 1), 5);
    assert_int_equal(dkim_bodyhash_total(&h, 0), 0); /* not counted */
    assert_null(dkim_bodyhash_get(&h, 0, &(size_t){0}));
    dkim_bodyhash_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_long),
        cmocka_unit_test(test_shared),
        cmocka_unit_test(test_count_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* conf-gen.c - write the texts generated from the config key table, or check a file.
 *   conf-gen config      > conf/senderauth.conf   (the documented default config)
 *   conf-gen docs        key reference for docs/configuration.md
 *   conf-gen man         > docs/man/senderauth.conf.5 (the manual page)
 *   conf-gen check FILE  load FILE, print every error and warning; exit 1 on errors
 *   conf-gen dump FILE   load FILE and print the effective configuration
 * Owns nothing but its arguments. Threads: none. */
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"

int main(int argc, char **argv)
{
    struct conf_errors errs;
    struct sa_conf *c;

    if (argc == 2 && strcmp(argv[1], "config") == 0)
        return conf_write_default(stdout) == 0 ? 0 : 1;
    if (argc == 2 && strcmp(argv[1], "docs") == 0)
        return conf_write_docs(stdout) == 0 ? 0 : 1;
    if (argc == 2 && strcmp(argv[1], "man") == 0)
        return conf_write_man(stdout) == 0 ? 0 : 1;
    if (argc == 3 && (strcmp(argv[1], "check") == 0 || strcmp(argv[1], "dump") == 0)) {
        c = conf_load_file(argv[2], &errs);
        conf_errors_print(&errs, stderr);
        if (c == NULL)
            return 1;
        if (strcmp(argv[1], "dump") == 0 && conf_dump(c, stdout) < 0)
            return 1;
        conf_unref(c);
        return 0;
    }
    fprintf(stderr, "usage: conf-gen config | docs | man | check FILE | dump FILE\n");
    return 2;
}

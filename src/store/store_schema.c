/* store_schema.c - the consent store schema and its migrations, in the SQLite and the
 * PostgreSQL dialect side by side, so that both backends keep the same tables, columns
 * and meanings (the contract in docs/consent.md).
 * Owns the DDL text only (and picking a step's text, store_migration_sql), plus the
 * stats query both dialects share; the backends run it (one transaction per step, each
 * step ending with its row in schema_version). A step is never edited once released: a
 * change is a new step; the macros below may be reshaped only while the text they
 * expand to stays the same.
 * Threads: constant data. */
#include <stdio.h>

#include "store_int.h"

/* The tables are written once, with the column types as parameters; each dialect
 * names its own: ID (the surrogate key), BIG (seconds, byte counts), SMALL (flags and
 * percentages) and ROWID (SQLite's WITHOUT ROWID, nothing in PostgreSQL). */
#define SQLITE_ID "INTEGER PRIMARY KEY AUTOINCREMENT"
#define PGSQL_ID "BIGSERIAL PRIMARY KEY"

/* consent_user and consent_domain: one flag per address or per domain */
#define CONSENT_FLAGS(TABLE, KEY, SMALL, BIG, ROWID)                                               \
    "CREATE TABLE " TABLE " ("                                                                     \
    " " KEY " TEXT PRIMARY KEY NOT NULL,"                                                          \
    " enforce " SMALL " NOT NULL CHECK (enforce IN (0, 1)),"                                       \
    " updated_at " BIG " NOT NULL,"                                                                \
    " source TEXT,"                                                                                \
    " note TEXT)" ROWID ";"

/* Version 1: schema_version, the flags and the append-only evidence (its guard against
 * UPDATE and DELETE is dialect-specific and follows). */
#define SCHEMA_V1(ID, SMALL, BIG, ROWID)                                                           \
    "CREATE TABLE schema_version ("                                                                \
    " version INTEGER PRIMARY KEY,"                                                                \
    " applied_at " BIG                                                                             \
    " NOT NULL);" CONSENT_FLAGS("consent_user", "address", SMALL, BIG, ROWID) CONSENT_FLAGS(       \
        "consent_domain", "domain", SMALL, BIG,                                                    \
        ROWID) "CREATE TABLE consent_event ("                                                      \
               " id " ID ","                                                                       \
               " subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'domain')),"           \
               " subject TEXT NOT NULL,"                                                           \
               " enforce " SMALL " CHECK (enforce IN (0, 1)),"                                     \
               " at " BIG " NOT NULL,"                                                             \
               " actor TEXT,"                                                                      \
               " channel TEXT,"                                                                    \
               " explanation_version TEXT,"                                                        \
               " scope_version TEXT,"                                                              \
               " note TEXT);"                                                                      \
               "CREATE INDEX consent_event_subject ON consent_event (subject_kind, subject, id);"

/* Version 2: dmarc_history, report_log, report_dest */
#define SCHEMA_V2(ID, SMALL, BIG)                                                                  \
    "CREATE TABLE dmarc_history ("                                                                 \
    " id " ID ","                                                                                  \
    " at " BIG " NOT NULL,"                                                                        \
    " source_ip TEXT NOT NULL,"                                                                    \
    " env_from TEXT NOT NULL,"                                                                     \
    " header_from TEXT NOT NULL,"                                                                  \
    " policy_domain TEXT NOT NULL,"                                                                \
    " spf_domain TEXT NOT NULL,"                                                                   \
    " spf_scope TEXT NOT NULL,"                                                                    \
    " spf_result TEXT NOT NULL,"                                                                   \
    " dkim TEXT NOT NULL,"                                                                         \
    " dmarc_result TEXT NOT NULL,"                                                                 \
    " dkim_aligned " SMALL " NOT NULL,"                                                            \
    " spf_aligned " SMALL " NOT NULL,"                                                             \
    " p TEXT NOT NULL,"                                                                            \
    " sp TEXT NOT NULL,"                                                                           \
    " np TEXT NOT NULL,"                                                                           \
    " pct " SMALL " NOT NULL,"                                                                     \
    " testing " SMALL " NOT NULL,"                                                                 \
    " adkim TEXT NOT NULL,"                                                                        \
    " aspf TEXT NOT NULL,"                                                                         \
    " disposition TEXT NOT NULL,"                                                                  \
    " reason TEXT NOT NULL,"                                                                       \
    " reason_comment TEXT NOT NULL,"                                                               \
    " discovery TEXT NOT NULL,"                                                                    \
    " rua TEXT NOT NULL,"                                                                          \
    " action TEXT NOT NULL,"                                                                       \
    " would TEXT NOT NULL,"                                                                        \
    " rcpt_consent INTEGER NOT NULL,"                                                              \
    " rcpt_total INTEGER NOT NULL);"                                                               \
    "CREATE INDEX dmarc_history_at ON dmarc_history (at);"                                         \
    "CREATE INDEX dmarc_history_domain ON dmarc_history (policy_domain, at);"                      \
    "CREATE TABLE report_log ("                                                                    \
    " id " ID ","                                                                                  \
    " at " BIG " NOT NULL,"                                                                        \
    " begin_at " BIG " NOT NULL,"                                                                  \
    " end_at " BIG " NOT NULL,"                                                                    \
    " policy_domain TEXT NOT NULL,"                                                                \
    " dest TEXT NOT NULL,"                                                                         \
    " report_id TEXT NOT NULL,"                                                                    \
    " status TEXT NOT NULL CHECK (status IN ('sent', 'failed', 'skipped', 'written')),"            \
    " detail TEXT NOT NULL,"                                                                       \
    " bytes " BIG " NOT NULL);"                                                                    \
    "CREATE INDEX report_log_at ON report_log (at);"                                               \
    "CREATE TABLE report_dest ("                                                                   \
    " dest TEXT PRIMARY KEY NOT NULL,"                                                             \
    " failures INTEGER NOT NULL,"                                                                  \
    " last_at " BIG " NOT NULL,"                                                                   \
    " last_error TEXT NOT NULL);"

/* Version 1: flags per address and per domain, append-only evidence, schema_version.
 * Times are seconds since the epoch (UTC) in a 64-bit integer; enforce is 0 or 1. */
const struct store_migration store_migrations[] = {
    {1,
     /* SQLite */
     SCHEMA_V1(
         SQLITE_ID, "INTEGER", "INTEGER",
         " WITHOUT ROWID") "CREATE TRIGGER consent_event_no_update BEFORE UPDATE ON consent_event"
                           " BEGIN SELECT RAISE(ABORT, 'consent_event is append-only'); END;"
                           "CREATE TRIGGER consent_event_no_delete BEFORE DELETE ON consent_event"
                           " BEGIN SELECT RAISE(ABORT, 'consent_event is append-only'); END;",
     /* PostgreSQL */
     SCHEMA_V1(PGSQL_ID, "SMALLINT", "BIGINT",
               "") "CREATE FUNCTION consent_event_append_only() RETURNS trigger LANGUAGE plpgsql AS"
                   " $$ BEGIN RAISE EXCEPTION 'consent_event is append-only'; END $$;"
                   "CREATE TRIGGER consent_event_no_change BEFORE UPDATE OR DELETE ON consent_event"
                   " FOR EACH ROW EXECUTE FUNCTION consent_event_append_only();"},
    /* Version 2: DMARC aggregate-report history (one row per evaluated message, no
     * recipient and no content), the report log and the per-destination failure count
     * (src/store/store_history.c, docs/reports.md). */
    {2,
     /* SQLite */
     SCHEMA_V2(SQLITE_ID, "INTEGER", "INTEGER"),
     /* PostgreSQL */
     SCHEMA_V2(PGSQL_ID, "SMALLINT", "BIGINT")},
};

const int store_nmigrations = (int)(sizeof(store_migrations) / sizeof(store_migrations[0]));

/* store_stats_sql - see store_int.h */
const char store_stats_sql[] = "SELECT (SELECT count(*) FROM consent_user),"
                               " (SELECT COALESCE(SUM(enforce), 0) FROM consent_user),"
                               " (SELECT count(*) FROM consent_domain),"
                               " (SELECT COALESCE(SUM(enforce), 0) FROM consent_domain),"
                               " (SELECT count(*) FROM consent_event),"
                               " (SELECT COALESCE(MAX(at), 0) FROM consent_event)";

/* store_migration_sql - see store_int.h */
const char *store_migration_sql(int to, int pgsql, long long now, char *row, size_t rowlen)
{
    for (int i = 0; i < store_nmigrations; i++) {
        if (store_migrations[i].version == to) {
            snprintf(row, rowlen,
                     "INSERT INTO schema_version (version, applied_at) VALUES (%d, %lld)", to, now);
            return pgsql ? store_migrations[i].pgsql : store_migrations[i].sqlite;
        }
    }
    store_seterr("no migration to version %d", to);
    return NULL;
}

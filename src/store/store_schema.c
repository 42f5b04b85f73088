/* store_schema.c - the consent store schema and its migrations, in the SQLite and the
 * PostgreSQL dialect side by side, so that both backends keep the same tables, columns
 * and meanings (the contract in docs/consent.md).
 * Owns the DDL text only; the backends run it (one transaction per step, each step
 * ending with its row in schema_version). A step is never edited once released: a
 * change is a new step.
 * Threads: constant data. */
#include "store_int.h"

/* Version 1: flags per address and per domain, append-only evidence, schema_version.
 * Times are seconds since the epoch (UTC) in a 64-bit integer; enforce is 0 or 1. */
const struct store_migration store_migrations[] = {
    {1,
     /* SQLite */
     "CREATE TABLE schema_version ("
     " version INTEGER PRIMARY KEY,"
     " applied_at INTEGER NOT NULL);"
     "CREATE TABLE consent_user ("
     " address TEXT PRIMARY KEY NOT NULL,"
     " enforce INTEGER NOT NULL CHECK (enforce IN (0, 1)),"
     " updated_at INTEGER NOT NULL,"
     " source TEXT,"
     " note TEXT) WITHOUT ROWID;"
     "CREATE TABLE consent_domain ("
     " domain TEXT PRIMARY KEY NOT NULL,"
     " enforce INTEGER NOT NULL CHECK (enforce IN (0, 1)),"
     " updated_at INTEGER NOT NULL,"
     " source TEXT,"
     " note TEXT) WITHOUT ROWID;"
     "CREATE TABLE consent_event ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'domain')),"
     " subject TEXT NOT NULL,"
     " enforce INTEGER CHECK (enforce IN (0, 1)),"
     " at INTEGER NOT NULL,"
     " actor TEXT,"
     " channel TEXT,"
     " explanation_version TEXT,"
     " scope_version TEXT,"
     " note TEXT);"
     "CREATE INDEX consent_event_subject ON consent_event (subject_kind, subject, id);"
     "CREATE TRIGGER consent_event_no_update BEFORE UPDATE ON consent_event"
     " BEGIN SELECT RAISE(ABORT, 'consent_event is append-only'); END;"
     "CREATE TRIGGER consent_event_no_delete BEFORE DELETE ON consent_event"
     " BEGIN SELECT RAISE(ABORT, 'consent_event is append-only'); END;",
     /* PostgreSQL */
     "CREATE TABLE schema_version ("
     " version INTEGER PRIMARY KEY,"
     " applied_at BIGINT NOT NULL);"
     "CREATE TABLE consent_user ("
     " address TEXT PRIMARY KEY NOT NULL,"
     " enforce SMALLINT NOT NULL CHECK (enforce IN (0, 1)),"
     " updated_at BIGINT NOT NULL,"
     " source TEXT,"
     " note TEXT);"
     "CREATE TABLE consent_domain ("
     " domain TEXT PRIMARY KEY NOT NULL,"
     " enforce SMALLINT NOT NULL CHECK (enforce IN (0, 1)),"
     " updated_at BIGINT NOT NULL,"
     " source TEXT,"
     " note TEXT);"
     "CREATE TABLE consent_event ("
     " id BIGSERIAL PRIMARY KEY,"
     " subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'domain')),"
     " subject TEXT NOT NULL,"
     " enforce SMALLINT CHECK (enforce IN (0, 1)),"
     " at BIGINT NOT NULL,"
     " actor TEXT,"
     " channel TEXT,"
     " explanation_version TEXT,"
     " scope_version TEXT,"
     " note TEXT);"
     "CREATE INDEX consent_event_subject ON consent_event (subject_kind, subject, id);"
     "CREATE FUNCTION consent_event_append_only() RETURNS trigger LANGUAGE plpgsql AS"
     " $$ BEGIN RAISE EXCEPTION 'consent_event is append-only'; END $$;"
     "CREATE TRIGGER consent_event_no_change BEFORE UPDATE OR DELETE ON consent_event"
     " FOR EACH ROW EXECUTE FUNCTION consent_event_append_only();"},
};

const int store_nmigrations = (int)(sizeof(store_migrations) / sizeof(store_migrations[0]));

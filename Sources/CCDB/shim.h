/* CCDB: tinycdb, the constant database Postfix's cdb: tables are made of. */
#ifndef POSTERN_CCDB_H
#define POSTERN_CCDB_H
#include <cdb.h>
static inline unsigned postern_cdb_datapos(const struct cdb *c) { return cdb_datapos(c); }
static inline unsigned postern_cdb_datalen(const struct cdb *c) { return cdb_datalen(c); }
#endif

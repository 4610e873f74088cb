/* CPCRE2: PCRE2 with 8-bit code units, for pcre: tables. */
#ifndef POSTERN_CPCRE2_H
#define POSTERN_CPCRE2_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
static inline size_t postern_pcre2_zero_terminated(void) { return PCRE2_ZERO_TERMINATED; }
#endif

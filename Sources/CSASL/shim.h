/* CSASL: Cyrus SASL server and client API. */
#ifndef POSTERN_CSASL_H
#define POSTERN_CSASL_H
#include <sasl/sasl.h>
#include <sasl/saslutil.h>
#endif

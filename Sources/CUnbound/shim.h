/* CUnbound: libunbound, the DNS resolver library. */
#ifndef POSTERN_CUNBOUND_H
#define POSTERN_CUNBOUND_H
#include <unbound.h>
#endif

/* COpenSSL: OpenSSL 3 headers for Swift, plus inline wrappers for the macros Swift
 * cannot import (function-like macros over SSL_ctrl, and SSL_OP_BIT constants). */
#ifndef POSTERN_COPENSSL_H
#define POSTERN_COPENSSL_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

static inline long postern_ssl_ctx_set_min_proto(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long postern_ssl_ctx_set_max_proto(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long postern_ssl_set_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline void postern_openssl_free(void *p) { OPENSSL_free(p); }
static inline uint64_t postern_ssl_op_all(void) { return SSL_OP_ALL; }
static inline uint64_t postern_ssl_op_no_compression(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t postern_ssl_op_no_renegotiation(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t postern_ssl_op_cipher_server_preference(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }
static inline uint64_t postern_ssl_op_ignore_unexpected_eof(void) { return SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline uint64_t postern_ssl_op_no_sslv3(void) { return SSL_OP_NO_SSLv3; }
static inline uint64_t postern_ssl_op_no_tlsv1(void) { return SSL_OP_NO_TLSv1; }
static inline uint64_t postern_ssl_op_no_tlsv1_1(void) { return SSL_OP_NO_TLSv1_1; }
static inline uint64_t postern_ssl_op_no_tlsv1_2(void) { return SSL_OP_NO_TLSv1_2; }
static inline uint64_t postern_ssl_op_no_tlsv1_3(void) { return SSL_OP_NO_TLSv1_3; }
static inline long postern_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long postern_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline long postern_ssl_ctx_set_groups_list(SSL_CTX *ctx, const char *list) {
    return SSL_CTX_set1_groups_list(ctx, list);
}
static inline long postern_ssl_ctx_set_dh_auto(SSL_CTX *ctx, int on) { return SSL_CTX_set_dh_auto(ctx, on); }
static inline long postern_ssl_get_signature_nid(SSL *ssl, int *nid) { return SSL_get_signature_nid(ssl, nid); }
static inline long postern_ssl_get_peer_signature_nid(SSL *ssl, int *nid) {
    return SSL_get_peer_signature_nid(ssl, nid);
}
static inline long postern_ssl_get_peer_tmp_key(SSL *ssl, EVP_PKEY **key) { return SSL_get_peer_tmp_key(ssl, key); }
static inline int postern_ssl_filetype_pem(void) { return SSL_FILETYPE_PEM; }
#endif

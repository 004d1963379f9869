#include "tls_client.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>

namespace lbk {
namespace probe {

TlsContexts::~TlsContexts() {
  for (auto &kv : contexts_) SSL_CTX_free(kv.second);
}

static std::string openssl_error_text(unsigned long code) {
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

SSL_CTX *TlsContexts::context(const std::string &ca_file, std::string *error) {
  auto it = contexts_.find(ca_file);
  if (it != contexts_.end()) return it->second;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    *error = "cannot create a TLS context: " + openssl_error_text(ERR_get_error());
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                               : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    *error = (ca_file.empty() ? std::string("cannot load the system trust store")
                              : "cannot load ca_file '" + ca_file + "'") +
             ": " + openssl_error_text(ERR_get_error());
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return nullptr;
  }
  contexts_[ca_file] = ctx;
  return ctx;
}

SSL *TlsContexts::new_ssl(const std::string &host, bool host_is_ip, bool verify,
                          const std::string &ca_file, std::string *error) {
  SSL_CTX *ctx = context(ca_file, error);
  if (!ctx) return nullptr;
  SSL *ssl = SSL_new(ctx);
  if (!ssl) {
    *error = "cannot create a TLS session: " + openssl_error_text(ERR_get_error());
    return nullptr;
  }
  if (!host_is_ip) SSL_set_tlsext_host_name(ssl, host.c_str());  // SNI: names only (RFC 6066)
  if (!verify) {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    return ssl;
  }
  X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
  int ok = host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                      : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1) {
    *error = "cannot verify against host '" + host + "'";
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

std::string describe_tls_failure(const SSL *ssl, unsigned long ssl_error, int socket_errno) {
  long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (verify != X509_V_OK)
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  if (ssl_error != 0) return "TLS handshake failed: " + openssl_error_text(ssl_error);
  if (socket_errno != 0) return std::string("TLS handshake failed: ") + std::strerror(socket_errno);
  return "TLS handshake failed: connection closed by the peer";
}

int64_t earliest_certificate_expiry(const SSL *ssl) {
  // A client's SSL_get_peer_cert_chain includes the server's own
  // certificate first.
  STACK_OF(X509) *chain = ssl ? SSL_get_peer_cert_chain(ssl) : nullptr;
  int64_t earliest = 0;
  for (int i = 0; chain && i < sk_X509_num(chain); ++i) {
    const ASN1_TIME *not_after = X509_get0_notAfter(sk_X509_value(chain, i));
    std::tm tm{};
    if (!not_after || ASN1_TIME_to_tm(not_after, &tm) != 1) continue;
    const int64_t t = static_cast<int64_t>(timegm(&tm));
    if (earliest == 0 || t < earliest) earliest = t;
  }
  return earliest;
}

}  // namespace probe
}  // namespace lbk

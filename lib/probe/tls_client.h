// Client TLS for the prober: one SSL_CTX per trust store, SSL objects with
// SNI and host-name verification, and failure texts people can act on.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <map>
#include <string>

namespace lbk {
namespace probe {

class TlsContexts {
 public:
  TlsContexts() = default;
  ~TlsContexts();
  TlsContexts(const TlsContexts &) = delete;
  TlsContexts &operator=(const TlsContexts &) = delete;

  // A new client SSL for one connection to @p host (a name or an IP
  // literal): SNI set for names, the peer's certificate checked against
  // the system store (@p ca_file empty) or @p ca_file, and its name or IP
  // against @p host -- unless @p verify is false.  nullptr with a reason in
  // @p error (unreadable ca_file, ...).
  SSL *new_ssl(const std::string &host, bool host_is_ip, bool verify,
               const std::string &ca_file, std::string *error);

 private:
  SSL_CTX *context(const std::string &ca_file, std::string *error);
  std::map<std::string, SSL_CTX *> contexts_;  // by ca_file ("" = system)
};

// Why a handshake on @p ssl failed: "certificate verify failed: <reason>"
// when the chain or name did not verify, else OpenSSL's error @p ssl_error
// (from bufferevent_get_openssl_error, 0 if none) or the socket's errno.
std::string describe_tls_failure(const SSL *ssl, unsigned long ssl_error, int socket_errno);

// The earliest notAfter (Unix seconds) of the certificate chain the peer
// sent on @p ssl, or 0 when it sent none.
int64_t earliest_certificate_expiry(const SSL *ssl);

}  // namespace probe
}  // namespace lbk

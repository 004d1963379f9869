#!/bin/sh
# gen-cert.sh DIR - writes a fresh self-signed certificate and key for tests:
#   DIR/cert.pem  ECDSA P-256, valid 2 days, CN=localhost,
#                 subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1;
#                 it is its own CA, so it can be given as a trust anchor
#                 (ca_file) to make verification pass
#   DIR/key.pem   its unencrypted private key (mode 600)
# Generated at test time: nothing secret is ever committed.
set -eu
dir=${1:?usage: gen-cert.sh DIR}
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,digitalSignature,keyCertSign" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
echo "$dir/cert.pem $dir/key.pem"

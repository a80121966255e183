#!/bin/sh
# DEV ONLY. Regenerates the throw-away CA, NATS server certificate and client certificate of the compose stack.
# Their private keys are public (in git): never use these files outside local development.
# Run from anywhere: sh deploy/dev/tls/generate.sh
set -eu
cd "$(dirname "$0")"
days=3650
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -keyout ca-key.pem -out ca.pem -subj "/CN=secrets-platform dev-only NATS CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
issue() {
  name=$1 subject=$2 extensions=$3
  printf '%b' "$extensions" > "$name.ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name-key.pem" -out "$name.csr" \
    -subj "/CN=$subject"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$days" \
    -out "$name.pem" -extfile "$name.ext"
  rm -f "$name.csr" "$name.ext"
}
issue server 'nats (dev only)' \
  'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:nats,DNS:localhost,IP:127.0.0.1\n'
issue client 'secrets-platform dev client (dev only)' 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n'
rm -f ca.srl
# Readable by the services' non-root user inside the containers.
chmod 644 ./*.pem

#!/bin/sh
# One-shot job of the minio-init service (image minio/mc): creates Ikou's two buckets on the
# MinIO server, idempotently, and exits 0 so that the Airflow services may start.
#   $IKOU_RESTRICTED_BUCKET  restricted zones (landing ... review): personal data, private
#   $IKOU_REPORTS_BUCKET     reports/ and docs/ (Data Docs): no personal data, private as well
# The names come from the same compose anchor as the Airflow services' environment.
set -eu

: "${AWS_ENDPOINT_URL:?}" "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}"
: "${IKOU_RESTRICTED_BUCKET:?}" "${IKOU_REPORTS_BUCKET:?}"

mc alias set ikou "$AWS_ENDPOINT_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
for bucket in "$IKOU_RESTRICTED_BUCKET" "$IKOU_REPORTS_BUCKET"; do
  mc mb --ignore-existing "ikou/$bucket"
  mc anonymous set none "ikou/$bucket"
done
mc ls ikou

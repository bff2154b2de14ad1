#!/usr/bin/env bash
# One-shot `setup` service of docker-compose.yml, run in the Elasticsearch image
# as root. Idempotent: every `docker compose up` runs it again.
#  1. a private CA and certificates for es01 and vigil-server (certs-instances.yml);
#  2. file modes: each key readable only by the program that uses it;
#  3. once Elasticsearch answers: the kibana_system password, and the users the
#     Vigil programs log in as, each with the least role it needs.
set -euo pipefail
cd /usr/share/elasticsearch
certs=config/certs
# The uid/gid the Vigil image runs server and hub as (Dockerfile).
vigil_gid=10001

if [ ! -f "$certs/ca/ca.crt" ]; then
  bin/elasticsearch-certutil ca --silent --pem -out "$certs/ca.zip"
  unzip -o "$certs/ca.zip" -d "$certs"
fi
if [ ! -f "$certs/vigil-server/vigil-server.crt" ]; then
  bin/elasticsearch-certutil cert --silent --pem -out "$certs/certs.zip" \
    --in config/certs-instances.yml --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key"
  unzip -o "$certs/certs.zip" -d "$certs"
fi
# Elasticsearch and Kibana run as uid 1000, gid 0: es01's key is root:0 0640.
# The CA certificate is public; the CA key is root's alone; the servers' key
# is readable by the vigil group only.
chown -R root:0 "$certs"
find "$certs" -type d -exec chmod 750 {} \;
find "$certs" -type f -exec chmod 640 {} \;
chmod 755 "$certs" "$certs/ca"
chmod 644 "$certs/ca/ca.crt"
chmod 600 "$certs/ca/ca.key"
chown -R "root:$vigil_gid" "$certs/vigil-server"
touch "$certs/.ready"

es=https://es01:9200
call() { # method path body: fails unless Elasticsearch answers 2xx
  curl -sS --fail-with-body --cacert "$certs/ca/ca.crt" -u "elastic:${ELASTIC_PASSWORD}" \
    -X "$1" -H "Content-Type: application/json" "$es$2" -d "$3"
  echo
}
until curl -s --cacert "$certs/ca/ca.crt" "$es" | grep -q "missing authentication credentials"; do
  echo "waiting for Elasticsearch"
  sleep 5
done
until call POST /_security/user/kibana_system/_password "{\"password\":\"${KIBANA_PASSWORD}\"}"; do
  sleep 5
done

# vigil-hub: installs the index template, writes alerts, raises the count of a
# deduplicated alert (search + update + refresh of its own data stream).
call PUT /_security/role/vigil_hub '{
  "cluster": ["manage_index_templates", "monitor"],
  "indices": [{"names": ["vigil-alerts*"],
    "privileges": ["auto_configure", "create_doc", "index", "read", "maintenance", "view_index_metadata"]}]
}'
# vigil-server: reads alerts for GET /api/v1/alerts.
call PUT /_security/role/vigil_alerts_reader '{
  "indices": [{"names": ["vigil-alerts*"], "privileges": ["read", "view_index_metadata"]}]
}'
call PUT /_security/user/vigil_hub "{\"password\":\"${VIGIL_HUB_ES_PASSWORD}\",\"roles\":[\"vigil_hub\"]}"
call PUT /_security/user/vigil_server "{\"password\":\"${VIGIL_SERVER_ES_PASSWORD}\",\"roles\":[\"vigil_alerts_reader\"]}"
echo "setup done"

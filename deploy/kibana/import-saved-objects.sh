#!/usr/bin/env bash
# One-shot `kibana-import` service of docker-compose.yml: loads the Vigil data
# view, Lens visualizations and dashboard into Kibana once it is up. Safe to
# run again (overwrite=true replaces the objects by id).
#   KIBANA_URL=http://127.0.0.1:5601 ELASTIC_PASSWORD=... deploy/kibana/import-saved-objects.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kibana=${KIBANA_URL:-http://kibana:5601}
file=${SAVED_OBJECTS_FILE:-$here/vigil-saved-objects.ndjson}
auth="elastic:${ELASTIC_PASSWORD:?set ELASTIC_PASSWORD}"

until curl -s -u "$auth" "$kibana/api/status" | grep -q '"overall":{"level":"available"'; do
  echo "waiting for Kibana at $kibana"
  sleep 5
done
answer=$(curl -sS -u "$auth" -H "kbn-xsrf: vigil" \
  -X POST "$kibana/api/saved_objects/_import?overwrite=true" --form "file=@$file")
echo "$answer"
# Kibana answers 200 even when objects fail; success:true means all went in.
echo "$answer" | grep -q '"success":true'

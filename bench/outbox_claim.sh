#!/usr/bin/env bash
# The outbox relay's claim query on PostgreSQL against a large table:
# 200,000 delivered events, 100,000 pending over 10,000 tenants, and one
# tenant with 20,000 events stuck behind a failing receiver, with the
# schema and query koogate uses (store::outbox::claim).
#
#   bash bench/outbox_claim.sh
#
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust).
set -euo pipefail
db=kg_bench_outbox
psql=(psql -h 127.0.0.1 -U postgres -q -X)
trap '"${psql[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
"${psql[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
"${psql[@]}" -d "$db" >/dev/null <<'SQL'
CREATE TABLE outbox (id bigserial PRIMARY KEY, webhook_id varchar(64) NOT NULL UNIQUE,
  event_type varchar(48) NOT NULL, tenant_id varchar(128), instance_id varchar(128),
  payload text NOT NULL, status varchar(16) NOT NULL, created_at bigint NOT NULL,
  retry_from bigint NOT NULL, attempts integer NOT NULL, next_attempt_at bigint NOT NULL,
  claimed_until bigint, claim_token varchar(32), last_error varchar(200),
  delivered_at bigint, dead_at bigint);
CREATE INDEX idx_outbox_status ON outbox (status, id);
CREATE INDEX idx_outbox_tenant ON outbox (tenant_id, status, id);
CREATE INDEX idx_outbox_instance ON outbox (instance_id, status, id);
INSERT INTO outbox (webhook_id, event_type, tenant_id, instance_id, payload, status,
  created_at, retry_from, attempts, next_attempt_at, delivered_at)
  SELECT 'msg_d' || g, 'instance.created', 't' || (g % 10000), 'i' || (g % 10000), '{}',
    'delivered', 0, 0, 1, 0, 1 FROM generate_series(1, 200000) g;
INSERT INTO outbox (webhook_id, event_type, tenant_id, instance_id, payload, status,
  created_at, retry_from, attempts, next_attempt_at)
  SELECT 'msg_s' || g, 'user.granted', 'stuck', 'i-stuck', '{}', 'pending', 0, 0, 0, 0
  FROM generate_series(1, 20000) g;
INSERT INTO outbox (webhook_id, event_type, tenant_id, instance_id, payload, status,
  created_at, retry_from, attempts, next_attempt_at)
  SELECT 'msg_p' || g, 'instance.frozen', 't' || (g % 10000), 'i' || (g % 10000), '{}',
    'pending', 0, 0, 0, 0 FROM generate_series(1, 100000) g;
ANALYZE outbox;
SQL
claim="EXPLAIN (ANALYZE, COSTS OFF) SELECT o.* FROM outbox o
  WHERE o.status = 'pending' AND o.next_attempt_at <= 1000
  AND (o.claimed_until IS NULL OR o.claimed_until <= 1000)
  AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.tenant_id = o.tenant_id AND p.status = 'pending' AND p.id < o.id)
  AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.instance_id = o.instance_id AND p.status = 'pending' AND p.id < o.id)
  ORDER BY o.id LIMIT 16 FOR UPDATE SKIP LOCKED"
time_of() { "${psql[@]}" -d "$db" -At -c "$claim" | awk '/Execution Time/ {print $3 " ms"}'; }
printf '%-58s %s\n' "claim, stuck tenant's queue not yet moved:" "$(time_of)"
# What mark_failed does when the stuck tenant's head is retried later.
"${psql[@]}" -d "$db" -c "UPDATE outbox SET next_attempt_at = 2000 WHERE tenant_id = 'stuck'
  AND status = 'pending' AND id > (SELECT min(id) FROM outbox WHERE tenant_id = 'stuck' AND status = 'pending')" >/dev/null
printf '%-58s %s\n' "claim, stuck tenant's queue waiting with its head:" "$(time_of)"
"${psql[@]}" -d "$db" -c "DELETE FROM outbox WHERE tenant_id = 'stuck'" -c "VACUUM ANALYZE outbox" >/dev/null
printf '%-58s %s\n' "claim, 100,000 pending over 10,000 tenants, none stuck:" "$(time_of)"

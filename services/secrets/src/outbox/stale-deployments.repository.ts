import { type PostgresEventStore } from '@platform/event-store';
import { type SecretScope } from '../secrets/secret';

/** A deployment of the index that received a key at a version older than the one a change reached. */
export interface StaleDeploymentRow {
  readonly customer_id: string;
  readonly deployment_id: string;
  readonly received_version: number;
  readonly rendered_ms: number | string;
}

/**
 * The deployments that received `key` from the stream of the scope written (a vendor-level key: a `vendor` reference in
 * any deployment of the organization; a customer key: a `customer` reference in that customer's deployments, as
 * ARCHITECTURE.md §3 "affected deployments") at a version below `$5`, the stream version of the change; a deletion's
 * version is above every value's, so a delete lists every deployment that received the key.
 */
const STALE = `
  select d.customer_id, d.deployment_id, r.received_version,
         extract(epoch from d.last_rendered_at) * 1000 as rendered_ms
  from deployment_index d
    cross join lateral (
      select min((ref->>'version')::int) as received_version from jsonb_array_elements(d.refs) ref
      where ref->>'key' = $3::text and ref->>'scope' = $4::text) r
  where d.organization_id = $1 and ($2::text = '' or d.customer_id = $2::text)
    and d.refs @> jsonb_build_array(jsonb_build_object('key', $3::text, 'scope', $4::text))
    and r.received_version < $5
  order by d.customer_id, d.deployment_id`;

/** The deployments a change of `key` in `scope` to stream version `version` left running an older version. */
export function staleDeployments(
  store: PostgresEventStore,
  scope: SecretScope,
  key: string,
  version: number,
): Promise<StaleDeploymentRow[]> {
  const customerId = scope.customerOrganizationId ?? '';
  return store.query<StaleDeploymentRow>(
    STALE,
    [scope.organizationId, customerId, key, customerId === '' ? 'vendor' : 'customer', version],
    { prepared: true },
  );
}

/**
 * Starts the stale outbox where SECRETS_EVENTS's stands when this release first runs, so a database of an earlier
 * release does not replay every past change as a notification; an empty database has no checkpoint yet and starts at 0.
 */
export const START_STALE_OUTBOX_AT_SECRETS_OUTBOX = (staleOutbox: string, secretsOutbox: string) => `
  insert into outbox_checkpoints (name, last_transaction_id, last_position)
  select '${staleOutbox}', last_transaction_id, last_position from outbox_checkpoints where name = '${secretsOutbox}'
  on conflict (name) do nothing`;

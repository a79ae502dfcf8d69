/**
 * The NATS flags every cluster role shares, with their usage lines and values.
 * A leaf module (no imports): `codemode serve` parses these flags without
 * loading the NATS clients unless it becomes a gateway.
 */
export const NATS_FLAGS = {
  nats: { type: 'string', multiple: true },
  'nats-credentials': { type: 'string' },
  'nats-tls-ca': { type: 'string' },
  'nats-tls-cert': { type: 'string' },
  'nats-tls-key': { type: 'string' },
  replicas: { type: 'string' },
} as const;

export const NATS_USAGE = `  --nats URL           a NATS server of the cluster (repeatable, or comma-separated; also CODEMODE_NATS)
  --nats-credentials F this node's NATS credentials: one line "user:password" or an NKEY user seed SU...
                       (also CODEMODE_NATS_CREDENTIALS)
  --nats-tls-ca F      connect over TLS, trusting this CA's server certificates (also CODEMODE_NATS_TLS_CA)
  --nats-tls-cert F    with --nats-tls-key: this node's client certificate, for servers that verify clients
  --nats-tls-key F     (also CODEMODE_NATS_TLS_CERT, CODEMODE_NATS_TLS_KEY)
  --replicas N         JetStream replicas of the buckets (default 3 with 3+ --nats URLs, else 1)`;

/** The parsed values of NATS_FLAGS. */
export interface NatsFlagValues {
  nats?: string[] | undefined;
  'nats-credentials'?: string | undefined;
  'nats-tls-ca'?: string | undefined;
  'nats-tls-cert'?: string | undefined;
  'nats-tls-key'?: string | undefined;
  replicas?: string | undefined;
}

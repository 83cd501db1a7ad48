/**
 * The live preflight (seed: Custom outbound proxy, How it works): before a custom proxy is
 * applied, the host opens a CONNECT tunnel through it to `preflight.target` and closes it.
 * A proxy that cannot do that is refused with one of the seed's preflight_* codes, and the
 * workspace's outbound configuration stays as it was.
 */
import { ApiError, type ErrorCode } from '../api/errors';
import type { ProxyCredentials } from '../model/types';
import {
  openTunnel, speaksHttp, speaksTls, TunnelError, type ProxyEndpoint, type TunnelVerdict,
} from './tunnel';

/** What the preflight needs of the config. */
export interface PreflightOptions {
  /** config preflight.target, "host:port" */
  target: string;
  /** config preflight.timeout_ms */
  timeoutMs: number;
  /** trusted certificates for https proxies (see trust.ts) */
  ca?: readonly string[];
}

/** The API code of each verdict. */
export const VERDICT_CODES: Readonly<Record<TunnelVerdict, ErrorCode>> = {
  protocol_mismatch: 'preflight_protocol_mismatch',
  auth_required: 'preflight_auth_required',
  bad_status: 'preflight_bad_status',
  unreachable: 'preflight_unreachable',
  timeout: 'preflight_timeout',
  closed: 'preflight_closed',
};

/** How long the preflight took and what the proxy answered, for the log. */
export interface PreflightResult {
  status: number;
  ms: number;
}

/**
 * Opens and closes one tunnel through `proxy` to the preflight target. Resolves when the
 * proxy answered with a 2xx; otherwise throws the ApiError of the verdict.
 */
export async function preflight(
  proxy: ProxyEndpoint,
  credentials: ProxyCredentials | null,
  o: PreflightOptions,
): Promise<PreflightResult> {
  const started = performance.now();
  try {
    const tunnel = await openTunnel({
      proxy,
      credentials,
      target: o.target,
      timeoutMs: o.timeoutMs,
      ca: o.ca,
      // Half the time for TLS, so that the rest can tell a plain proxy from a silent one.
      handshakeMs: proxy.protocol === 'https' ? o.timeoutMs / 2 : undefined,
    });
    tunnel.socket.destroy();
    return { status: tunnel.status, ms: Math.round(performance.now() - started) };
  } catch (caught) {
    if (!(caught instanceof TunnelError)) throw caught;
    let err = caught;
    const left = o.timeoutMs - (performance.now() - started);
    if (err.silent && proxy.protocol === 'http' && left > 0 && (await speaksTls(proxy, left))) {
      const detail = 'the proxy speaks TLS; set protocol "https" for a TLS proxy';
      err = new TunnelError('protocol_mismatch', detail, { cause: caught });
    }
    if (err.handshake) err = await plainOrSilent(proxy, o, err, started);
    const where = `${proxy.protocol}://${proxy.host}:${proxy.port}`;
    const message = `preflight CONNECT ${o.target} via ${where}: ${err.detail}; ` +
      'nothing was changed';
    throw new ApiError(VERDICT_CODES[err.verdict], message, {
      field: 'custom_proxy',
      cause: err,
    });
  }
}

/**
 * After a TLS handshake went unanswered: a proxy that answers plain HTTP in the time left
 * is a protocol mismatch; one that stays silent is a timeout, at timeout_ms.
 */
async function plainOrSilent(
  proxy: ProxyEndpoint,
  o: PreflightOptions,
  err: TunnelError,
  started: number,
): Promise<TunnelError> {
  const left = Math.max(0, o.timeoutMs - (performance.now() - started));
  if (await speaksHttp(proxy, o.target, left)) {
    const detail = 'the proxy answered plain HTTP, not TLS; set protocol "http" for it';
    return new TunnelError('protocol_mismatch', detail, { cause: err });
  }
  return new TunnelError('timeout', `the proxy did not answer within ${o.timeoutMs} ms`, {
    cause: err,
  });
}

import { useEffect } from 'react';
import { hostOf as host, type DeliveryState, type SentPlace } from '@freehold/client';
import { sentName, type Sent } from '@freehold/microblog';
import type { Session } from './session.js';
import { PROVIDER } from './site.js';
import { useLoad } from './hooks.js';

/** How far these sends got; tracked (and kept up to date) while a view shows them. */
function useDelivery(session: Session, sends: Sent[]): DeliveryState | undefined {
  const key = sends.map(sentName).join(' ');
  const places = useLoad(session, async () => (await Promise.all(sends.map((s) => session.mb.sentPlace(s)))).filter((p): p is SentPlace => p !== undefined), [key]);
  useEffect(() => {
    if (places.state === 'ready') session.deliveries.track(places.value);
  }, [places]);
  return places.state === 'ready' ? session.deliveries.state(places.value) : undefined;
}

/** The words for a state, as `freehold outbox` says them, and where a refusal came from. */
function describe(session: Session, d: DeliveryState): { label: string; why?: string } {
  switch (d.state) {
    case 'unsent':
      return { label: 'Not sent yet: only on this device until one of your providers has it' };
    case 'pending':
      return { label: 'Pending: your provider has it and is delivering it to theirs' };
    case 'delivered':
      return { label: `Delivered to ${host(d.to)}` };
    case 'failed': {
      // A refusal by one of the account's own providers names it as this page reaches it.
      const mine = d.to === PROVIDER || session.device.identity().providers.includes(d.to);
      return {
        label: `Failed at ${host(d.to)}: ${d.message} [${d.reason}]`,
        why: mine ? `Your provider ${host(d.to)} did not take it: ${d.message}` : `Their provider ${host(d.to)} refused it: ${d.message}`,
      };
    }
  }
}

const ICONS: Record<DeliveryState['state'], string> = {
  // A dashed ring: nothing has left this device yet.
  unsent: 'M8 1.5a6.5 6.5 0 0 1 0 13M8 14.5a6.5 6.5 0 0 1 0-13',
  // A clock face.
  pending: 'M8 1.5a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13M8 4.5V8l2.5 1.5',
  // A tick.
  delivered: 'M3 8.5l3.2 3L13 4.5',
  // A warning sign.
  failed: 'M8 1.8L15 14.2H1zM8 6.2v4M8 11.8v.4',
};

/**
 * A small mark of how far something sent to another account got: a dashed ring while it is on this device only,
 * a clock while pending, a tick once delivered, a red warning with the reason when refused. Nothing while
 * nothing is known (sent before marks existed, or by a device whose entry no provider has yet).
 */
export function DeliveryMark({ session, sends }: { session: Session; sends: Sent[] }) {
  const d = useDelivery(session, sends);
  if (!d) return null;
  const { label, why } = describe(session, d);
  return (
    <span className={`delivery ${d.state}`} data-state={d.state}>
      <svg viewBox="0 0 16 16" width="14" height="14" role="img" aria-label={label}>
        <title>{label}</title>
        <path d={ICONS[d.state]} strokeDasharray={d.state === 'unsent' ? '2 2' : undefined} />
      </svg>
      {why && <span className="why">{why}</span>}
    </span>
  );
}

/**
 * provide() is typed against setup(): `npx tsc --noEmit -p tsconfig.json`
 * checks this file, and every `@ts-expect-error` below must meet an error,
 * so if a wrong actor name or logic type ever type-checks again (say
 * `AreaProvision.actors` goes back to `Record<string, AnyActorLogic>`), tsc
 * reports the directive as unused and fails. vitest only checks that the good
 * provisions are what they look like at run time.
 */
import { describe, expect, it } from 'vitest';
import { fromCallback, fromPromise } from 'xstate';
import type { AnyEventObject } from 'xstate';
import { lifecycleMachine } from '../../machines/lifecycle.js';
import type { LifecycleActions, LifecycleActors } from '../../machines/lifecycle.js';
import type { DeregisterOutcome, ProxyCommand, StartupOutput } from '../../machines/events.js';
import type { AreaProvision } from '../../src/areas/provision.js';

const callback = fromCallback<AnyEventObject>(() => undefined);
const startup = fromPromise<StartupOutput>(async () => ({ movedAside: null }) as StartupOutput);

// Good: right names, right logic types.
const good: AreaProvision = {
  actors: {
    adminServer: callback,
    proxyServer: fromCallback<ProxyCommand>(() => undefined),
    prepare: startup,
  },
};

const misspelled: AreaProvision = {
  actors: {
    // @ts-expect-error a misspelled actor name: the chart would keep running its idle stub
    adminServr: callback,
  },
};

const promiseForCallback: AreaProvision = {
  actors: {
    // @ts-expect-error the chart invokes adminServer as a callback actor, not a promise
    adminServer: startup,
  },
};

const wrongOutput: AreaProvision = {
  actors: {
    // @ts-expect-error deregister must resolve to a DeregisterOutcome, not a StartupOutput
    deregister: fromPromise<StartupOutput, { timeoutMs: number }>(async () => ({ movedAside: null }) as StartupOutput),
  },
};

const wrongEvents: AreaProvision = {
  actors: {
    // @ts-expect-error the chart sends the proxy every drain phase; a logic taking only one of them cannot receive the others
    proxyServer: fromCallback<{ type: 'PROXY.DRAIN'; phase: 'cutting'; drainDeadlineMs: number }>(() => undefined),
  },
};

// The daemon's merge is typed the same way (src/daemon.ts).
const merged: LifecycleActors = {
  ...good.actors,
  deregister: fromPromise<DeregisterOutcome, { timeoutMs: number; shutdownAt: number | null }>(async () => ({ goodbyeSent: false, noticesSent: 0, acked: 0, leaseRevoked: null })),
  // @ts-expect-error a misspelled name in the daemon's own additions
  sucessor: callback,
};

// Actions provided by the daemon stay checked: names and params.
const actions: LifecycleActions = {
  applyPeerLeft: (_, { address, reason }) => void `${address} ${reason}`,
  // @ts-expect-error a misspelled action name
  reportDrainDeadlin: () => undefined,
};
// @ts-expect-error applyPeerStatus gets { address, status }, not a string
const badParams: LifecycleActions = { applyPeerStatus: (_: unknown, _reason: string) => undefined };

// And provide() itself refuses the same mistakes.
// @ts-expect-error a misspelled actor name passed straight to provide()
lifecycleMachine.provide({ actors: { registar: callback } });

describe('provide() typed against setup()', () => {
  it('keeps the good provisions as given (the bad ones fail tsc, see the file header)', () => {
    expect(Object.keys(good.actors ?? {})).toEqual(['adminServer', 'proxyServer', 'prepare']);
    expect(Object.keys(merged)).toContain('deregister');
    expect(typeof actions.applyPeerLeft).toBe('function');
    expect([misspelled, promiseForCallback, wrongOutput, wrongEvents, badParams]).toHaveLength(5);
  });
});

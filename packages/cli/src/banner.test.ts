import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { listeningBanner, reachableAddresses, workerCommand } from './banner.js';

const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false) => ({ address, family, internal }) as NetworkInterfaceInfo;
const interfaces = {
  lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
  eth0: [nic('10.0.0.5', 'IPv4'), nic('fd00::5', 'IPv6'), nic('fe80::1', 'IPv6')],
};

describe('the coordinator banner', () => {
  it('lists the addresses other hosts can reach first, loopback last, and no link-local ones', () => {
    expect(reachableAddresses('0.0.0.0', interfaces)).toEqual(['10.0.0.5', '127.0.0.1']);
    expect(reachableAddresses('::', interfaces)).toEqual(['10.0.0.5', 'fd00::5', '127.0.0.1', '::1']);
    expect(reachableAddresses('192.0.2.1', interfaces)).toEqual(['192.0.2.1']);
    expect(reachableAddresses('0.0.0.0', {})).toEqual(['127.0.0.1']);
  });

  it('prints a worker command that runs as pasted, with the token only when this coordinator made it up', () => {
    expect(workerCommand('10.0.0.5', 7070, { madeUpToken: 'abc' })).toBe('ADAMANT_TOKEN=abc adamant worker --connect ws://10.0.0.5:7070');
    expect(workerCommand('fd00::5', 7070, { tokenFile: 'adamant.token' })).toBe('adamant worker --connect ws://[fd00::5]:7070 --token-file adamant.token');
    expect(workerCommand('10.0.0.5', 7070, { fingerprint: 'sha256:AB' })).toBe('ADAMANT_TOKEN=… adamant worker --connect wss://10.0.0.5:7070 --tls-fingerprint sha256:AB');
  });

  it('names where it listens, then the command, then the other addresses', () => {
    const text = listeningBanner({ host: '0.0.0.0', port: 7070, minWorkers: 2, addresses: ['10.0.0.5', '127.0.0.1'], access: { madeUpToken: 'abc' } });
    expect(text.split('\n')).toEqual([
      'adamant coordinator listening on 0.0.0.0:7070; waiting for 2 worker(s). Start each with:',
      '  ADAMANT_TOKEN=abc adamant worker --connect ws://10.0.0.5:7070',
      '  (other addresses of this host: ws://127.0.0.1:7070)',
      '',
    ]);
  });
});

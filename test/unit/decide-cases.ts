/**
 * The fixture table of the pods' rules: one row per situation, named by the rule it exercises
 * (the names of the table in lib/scripts/README.md). node-decide.test.ts runs it; the mutation
 * check runs it again against every mutant of the decision files.
 */
import type { DecisionCase } from './decide-harness';
import { facts } from './decide-harness';

const SYS = '7300000000000000001';
const OTHER_SYS = '7300000000000000999';
const m = (o: number) => `pg-${o}.pg-hl.db.svc.cluster.local`;
const hold = (o: number, tli: number, lsn: string, extra: Partial<Parameters<typeof facts>[0]> = {}) =>
  facts({ host: m(o), state: 'hold', tli, lsn, ...extra });
const silent = (o: number) => facts({ host: m(o) });

// decide_election SELF SYSID WAITED TIMEOUT FAILOVER_WAIT member...
const elect = (self: number, waited: number, members: string[]) => [String(1000 + self), SYS, String(waited), '60', '50', ...members];
// decide_fence N SYSID TLI CHECKS LIMIT INACTIVE peer...
const fence = (n: number, tli: number, checks: number, peers: string[], inactive: string[] = []) => [String(n), SYS, String(tli), String(checks), '2', inactive.join(' '), ...peers];
// decide_scaledown ID N BASE ACTIVE ANSWERS SINCE NOW GRACE
const scale = (id: number, active: 0 | 1, answers: 0 | 1, since: string, now: number) => [String(id), '3', '1000', String(active), String(answers), since, String(now), '20'];
// decide_pause PRIMARY RECORD PRIM UP PASSES PAUSED MAX
const pause = (primary: 0 | 1, record: 0 | 1, prim: string, up: string, passes: number, paused: number) => [String(primary), String(record), prim, up, String(passes), String(paused), '30'];

export const CASES: DecisionCase[] = [
  // ---- helpers
  { rule: 'WAL positions compare as numbers', when: 'the high half counts above any low half', fn: 'decide_handoff_candidate', args: ['0/FFFFFFFF', '1/0'], expect: { verdict: 'target' } },
  { rule: 'WAL positions compare as numbers', when: 'hex digits, not string order (0/A000000 is past 0/9FFFFFF)', fn: 'decide_handoff_candidate', args: ['0/9FFFFFF', '0/A000000'], expect: { verdict: 'target' } },

  // ---- bootstrap
  { rule: 'ordinal 0 bootstraps only when every other member answers with an empty data directory', when: 'both others wait with no data', fn: 'decide_bootstrap', args: [facts({ host: m(1), state: 'waiting', sysid: '-' }), facts({ host: m(2), state: 'waiting', sysid: '-' })], expect: { verdict: 'bootstrap', reason: /all 2 other members answer with empty data directories/ } },
  { rule: 'ordinal 0 bootstraps only when every other member answers with an empty data directory', when: 'a member does not answer (it may hold the cluster)', fn: 'decide_bootstrap', args: [facts({ host: m(1), state: 'waiting', sysid: '-' }), silent(2)], expect: { verdict: 'wait', reason: /pg-2\S* does not answer/ } },
  { rule: 'ordinal 0 bootstraps only when every other member answers with an empty data directory', when: 'a member holds data', fn: 'decide_bootstrap', args: [facts({ host: m(1), state: 'hold', sysid: SYS }), facts({ host: m(2), state: 'waiting', sysid: '-' })], expect: { verdict: 'wait', reason: /pg-1\S* has state hold \(system identifier 7300000000000000001\)/ } },
  { rule: 'ordinal 0 bootstraps only when every other member answers with an empty data directory', when: 'a member without data is still starting', fn: 'decide_bootstrap', args: [facts({ host: m(1), state: 'starting', sysid: '-' })], expect: { verdict: 'wait', reason: /has state starting/ } },

  // ---- election
  { rule: 'a member that reports primary blocks the election', when: 'one member is primary', fn: 'decide_election', args: elect(0, 100, [hold(0, 2, '0/5000000'), facts({ host: m(1), state: 'primary', tli: 2 }), hold(2, 2, '0/4000000')]), expect: { verdict: 'wait', reason: /pg-1\S* reports state primary/ } },
  { rule: 'a streaming standby blocks the election', when: 'a standby streams from a primary this node cannot reach', fn: 'decide_election', args: elect(0, 100, [hold(0, 2, '0/5000000'), facts({ host: m(1), state: 'standby', streaming: 1 }), hold(2, 2, '0/4000000')]), expect: { verdict: 'wait', reason: /still streams/ } },
  { rule: 'no majority, no election', when: 'one of three members answers', fn: 'decide_election', args: elect(0, 100, [hold(0, 2, '0/5000000'), silent(1), silent(2)]), expect: { verdict: 'wait', reason: /only 1 of 3 members publish data of this cluster \(need 2\)/ } },
  { rule: 'no majority, no election', when: 'two of three answer: a majority is enough after the election timeout', fn: 'decide_election', args: elect(0, 61, [hold(0, 2, '0/5000000'), hold(1, 2, '0/4000000'), silent(2)]), expect: { verdict: 'promote', reason: /most advanced of 2 candidates \(2 of 3 members answered\)/ } },
  { rule: "another cluster's data does not count for the majority", when: 'a member holds another system identifier', fn: 'decide_election', args: elect(0, 100, [hold(0, 2, '0/5000000'), hold(1, 9, '0/9000000', { sysid: OTHER_SYS }), silent(2)]), expect: { verdict: 'wait', reason: /only 1 of 3 .*another system identifier on .*pg-1\S* \(7300000000000000999\)/ } },
  { rule: 'every member publishes a final state before the election timeout', when: 'a member is still starting, 10 s in', fn: 'decide_election', args: elect(0, 10, [hold(0, 2, '0/5000000'), hold(1, 2, '0/4000000'), facts({ host: m(2), state: 'starting' })]), expect: { verdict: 'wait', reason: /2 of 3 members have published a final state \(10s of 60s/ } },
  { rule: 'every member publishes a final state before the election timeout', when: 'every member published (an empty one waits), at once', fn: 'decide_election', args: elect(0, 0, [hold(0, 2, '0/5000000'), hold(1, 2, '0/4000000'), facts({ host: m(2), state: 'waiting', sysid: '-' })]), expect: { verdict: 'promote' } },
  { rule: 'repmgrd gets the failover wait first', when: 'a standby runs repmgrd, 49 s of 50', fn: 'decide_election', args: elect(0, 49, [hold(0, 2, '0/5000000'), facts({ host: m(1), state: 'standby', tli: 2, lsn: '0/4000000' }), hold(2, 2, '0/4000000')]), expect: { verdict: 'wait', reason: /1 standby\(s\) run repmgrd: leaving the failover to repmgrd \(49s of 50s\)/ } },
  { rule: 'repmgrd gets the failover wait first', when: 'the failover wait has passed', fn: 'decide_election', args: elect(0, 50, [hold(0, 2, '0/5000000'), facts({ host: m(1), state: 'standby', tli: 2, lsn: '0/4000000' }), hold(2, 2, '0/4000000')]), expect: { verdict: 'promote' } },
  { rule: 'repmgrd gets the failover wait first', when: 'then a running standby that is ahead wins, not this held node', fn: 'decide_election', args: elect(0, 50, [hold(0, 2, '0/4000000'), facts({ host: m(1), state: 'standby', tli: 2, lsn: '0/5000000' }), hold(2, 2, '0/4000000')]), expect: { verdict: 'wait', reason: /most advanced candidate is pg-1\S* \(timeline 2, lsn 0\/5000000\)/ } },
  { rule: 'a higher timeline beats a higher LSN', when: 'this node has the higher LSN on the older timeline', fn: 'decide_election', args: elect(0, 0, [hold(0, 2, '0/9000000'), hold(1, 3, '0/4000000'), hold(2, 2, '0/1000000')]), expect: { verdict: 'wait', reason: /most advanced candidate is pg-1\S* \(timeline 3, lsn 0\/4000000\)/ } },
  { rule: 'a higher timeline beats a higher LSN', when: 'this node has the newer timeline', fn: 'decide_election', args: elect(1, 0, [hold(0, 2, '0/9000000'), hold(1, 3, '0/4000000'), hold(2, 2, '0/1000000')]), expect: { verdict: 'promote', reason: /pg-1\S* \(timeline 3/ } },
  { rule: 'on one timeline the higher LSN wins', when: 'this node is behind', fn: 'decide_election', args: elect(2, 0, [hold(0, 2, '0/3000000'), hold(1, 2, '0/5000000'), hold(2, 2, '0/4000000')]), expect: { verdict: 'wait', reason: /most advanced candidate is pg-1/ } },
  { rule: 'on one timeline the higher LSN wins', when: 'this node is ahead', fn: 'decide_election', args: elect(1, 0, [hold(0, 2, '0/3000000'), hold(1, 2, '0/5000000'), hold(2, 2, '0/4000000')]), expect: { verdict: 'promote' } },
  { rule: 'the lower node id breaks a tie', when: 'two members hold the same position', fn: 'decide_election', args: elect(2, 0, [hold(0, 2, '0/1000000'), hold(1, 2, '0/5000000'), hold(2, 2, '0/5000000')]), expect: { verdict: 'wait', reason: /most advanced candidate is pg-1/ } },
  { rule: 'the lower node id breaks a tie', when: 'this node has the lower id', fn: 'decide_election', args: elect(1, 0, [hold(0, 2, '0/1000000'), hold(1, 2, '0/5000000'), hold(2, 2, '0/5000000')]), expect: { verdict: 'promote' } },
  { rule: 'priority 0 never wins', when: 'the most advanced member has priority 0', fn: 'decide_election', args: elect(1, 0, [hold(0, 2, '0/9000000', { priority: 0 }), hold(1, 2, '0/5000000'), hold(2, 2, '0/4000000')]), expect: { verdict: 'promote', reason: /most advanced of 3 candidates/ } },
  { rule: 'priority 0 never wins', when: 'every member has priority 0', fn: 'decide_election', args: elect(0, 0, [hold(0, 2, '0/9000000', { priority: 0 }), hold(1, 2, '0/5000000', { priority: 0 }), hold(2, 2, '0/4000000', { priority: 0 })]), expect: { verdict: 'wait', reason: /no candidate with priority > 0/ } },

  // ---- handoff
  { rule: 'the handoff candidates stream from this primary and have priority > 0', when: 'one standby does not stream, one has priority 0, one is in hold', fn: 'decide_handoff_order', args: ['aaaaaaaaaaaa', facts({ host: m(1), state: 'standby', streaming: 0 }), facts({ host: m(2), state: 'standby', streaming: 1, priority: 0 }), facts({ host: m(3), state: 'hold', streaming: 1 }), facts({ host: m(4), state: 'standby', streaming: 1 })], expect: { verdict: 'candidates', reply: m(4) } },
  { rule: 'the handoff candidates stream from this primary and have priority > 0', when: 'no standby streams', fn: 'decide_handoff_order', args: ['aaaaaaaaaaaa', facts({ host: m(1), state: 'standby', streaming: 0 }), silent(2)], expect: { verdict: 'none', reason: /no member standby streams from this node/ } },
  { rule: 'the best priority is the first handoff candidate', when: 'a lower-priority member is rolled', fn: 'decide_handoff_order', args: ['aaaaaaaaaaaa', facts({ host: m(1), state: 'standby', streaming: 1, priority: 50, spec: 'bbbbbbbbbbbb' }), facts({ host: m(2), state: 'standby', streaming: 1, priority: 100 })], expect: { verdict: 'candidates', reply: `${m(2)} ${m(1)}` } },
  { rule: 'the handoff prefers rolled pods', when: 'the highest ordinal of the rolled pods first', fn: 'decide_handoff_order', args: ['aaaaaaaaaaaa', facts({ host: m(1), state: 'standby', streaming: 1 }), facts({ host: m(2), state: 'standby', streaming: 1, spec: 'bbbbbbbbbbbb' }), facts({ host: m(3), state: 'standby', streaming: 1, spec: 'bbbbbbbbbbbb' })], expect: { verdict: 'candidates', reply: `${m(3)} ${m(2)} ${m(1)}` } },
  { rule: 'the handoff prefers rolled pods', when: 'no pod is rolled: the lowest ordinal first', fn: 'decide_handoff_order', args: ['aaaaaaaaaaaa', facts({ host: m(3), state: 'standby', streaming: 1 }), facts({ host: m(1), state: 'standby', streaming: 1 }), facts({ host: m(2), state: 'standby', streaming: 1 })], expect: { verdict: 'candidates', reply: `${m(1)} ${m(2)} ${m(3)}` } },
  { rule: 'the handoff target holds the shutdown checkpoint', when: 'it received WAL past the checkpoint', fn: 'decide_handoff_candidate', args: ['0/5000028', '0/50000A0'], expect: { verdict: 'target', reason: /past the shutdown checkpoint 0\/5000028/ } },
  { rule: 'the handoff target holds the shutdown checkpoint', when: 'it received WAL up to the checkpoint record only', fn: 'decide_handoff_candidate', args: ['0/5000028', '0/5000028'], expect: { verdict: 'behind' } },
  { rule: 'the handoff target holds the shutdown checkpoint', when: 'it received nothing', fn: 'decide_handoff_candidate', args: ['0/5000028', ''], expect: { verdict: 'behind', reason: /up to nothing/ } },

  // ---- fencing
  { rule: 'a newer timeline of this cluster fences at once', when: 'a member publishes timeline 3 while this primary is on 2', fn: 'decide_fence', args: fence(3, 2, 0, [facts({ host: m(1), state: 'primary', tli: 3 }), facts({ host: m(2), state: 'standby', tli: 3 })]), expect: { verdict: 'fence', reason: /pg-1\S* publishes timeline 3 \(primary\), newer than this primary's 2/ } },
  { rule: 'a newer timeline of this cluster fences at once', when: 'the newer timeline is another cluster\u2019s', fn: 'decide_fence', args: fence(3, 2, 0, [facts({ host: m(1), state: 'primary', tli: 7, sysid: OTHER_SYS }), facts({ host: m(2), state: 'standby', tli: 2 })]), expect: { verdict: 'ok', reply: '0' } },
  { rule: 'a newer timeline of this cluster fences at once', when: 'the same timeline', fn: 'decide_fence', args: fence(3, 2, 0, [facts({ host: m(1), state: 'standby', tli: 2 }), facts({ host: m(2), state: 'standby', tli: 2 })]), expect: { verdict: 'ok', reason: /3 of 3 members reachable/ } },
  { rule: 'a minority for two checks in a row fences', when: 'the first check in a minority', fn: 'decide_fence', args: fence(3, 2, 0, [silent(1), silent(2)]), expect: { verdict: 'isolated', reason: /only 1 of 3 members reachable \(need 2\), check 1 of 2/, reply: '1' } },
  { rule: 'a minority for two checks in a row fences', when: 'the second check in a row', fn: 'decide_fence', args: fence(3, 2, 1, [silent(1), silent(2)]), expect: { verdict: 'fence', reason: /cut off from the majority of the members \(1 of 3 reachable, 2 checks in a row\)/, reply: '2' } },
  { rule: 'a minority for two checks in a row fences', when: 'a majority again resets the count', fn: 'decide_fence', args: fence(3, 2, 1, [facts({ host: m(1), state: 'standby', tli: 2 }), silent(2)]), expect: { verdict: 'ok', reply: '0' } },
  { rule: 'a minority for two checks in a row fences', when: 'two of five is not a majority', fn: 'decide_fence', args: fence(5, 2, 0, [facts({ host: m(1), state: 'standby', tli: 2 }), silent(2), silent(3), silent(4)]), expect: { verdict: 'isolated', reply: '1' } },
  { rule: 'a member whose record is inactive and that does not answer is not counted', when: 'the roll after a scale-down from 5 to 3: two removed members and one restarting left gracefully', fn: 'decide_fence', args: fence(5, 2, 1, [facts({ host: m(1), state: 'standby', tli: 2 }), silent(2), silent(3), silent(4)], [m(2), m(3), m(4)]), expect: { verdict: 'ok', reason: /2 of 2 members reachable; not counted, inactive in repmgr: pg-2 pg-3 pg-4/, reply: '0' } },
  { rule: 'a member whose record is inactive and that does not answer is not counted', when: 'only the silent members that left count as gone: one restarting member left, two others are cut off', fn: 'decide_fence', args: fence(5, 2, 1, [facts({ host: m(1), state: 'standby', tli: 2 }), silent(2), silent(3), silent(4)], [m(4)]), expect: { verdict: 'fence', reason: /cut off from the majority of the members \(2 of 4 reachable, 2 checks in a row; not counted, inactive in repmgr: pg-4\)/ } },
  { rule: 'a member whose record is inactive and that does not answer is not counted', when: 'an inactive member that answers counts (it is back, its repmgrd not yet)', fn: 'decide_fence', args: fence(3, 2, 0, [facts({ host: m(1), state: 'standby', tli: 2 }), silent(2)], [m(1)]), expect: { verdict: 'ok', reason: /^2 of 3 members reachable$/ } },

  // ---- scale-down
  { rule: 'a configured member is never unregistered', when: 'its ordinal is within the list, gone long ago', fn: 'decide_scaledown', args: scale(1002, 0, 0, '100', 1000), expect: { verdict: 'member' } },
  { rule: 'a configured member is never unregistered', when: 'a node id outside the members\u2019 range', fn: 'decide_scaledown', args: scale(2003, 0, 0, '100', 1000), expect: { verdict: 'member' } },
  { rule: 'an active slot or a pod that answers keeps a scaled-away node', when: 'its slot is active', fn: 'decide_scaledown', args: scale(1003, 1, 0, '100', 1000), expect: { verdict: 'present', reply: '' } },
  { rule: 'an active slot or a pod that answers keeps a scaled-away node', when: 'its pod answers (a scale-up this primary does not know of yet)', fn: 'decide_scaledown', args: scale(1003, 0, 1, '100', 1000), expect: { verdict: 'present', reply: '' } },
  { rule: 'a scaled-away node gone for the grace period is unregistered', when: 'first seen gone: its clock starts', fn: 'decide_scaledown', args: scale(1003, 0, 0, '', 1000), expect: { verdict: 'gone', reply: '1000' } },
  { rule: 'a scaled-away node gone for the grace period is unregistered', when: 'gone 19 s of 20', fn: 'decide_scaledown', args: scale(1003, 0, 0, '981', 1000), expect: { verdict: 'gone', reason: /gone for 19s of 20s/, reply: '981' } },
  { rule: 'a scaled-away node gone for the grace period is unregistered', when: 'gone 20 s', fn: 'decide_scaledown', args: scale(1004, 0, 0, '980', 1000), expect: { verdict: 'unregister', reason: /node 1004 is beyond the 3 configured members, its slot is inactive and its pod gone for 20s/ } },

  // ---- join
  { rule: "another cluster's data is never touched", when: 'the primary has another system identifier', fn: 'decide_join', args: ['1001', SYS, m(0), OTHER_SYS, '1', '2', '2'], expect: { verdict: 'refuse', reason: /belongs to another cluster \(system identifier 7300000000000000001, primary pg-0\S* has 7300000000000000999\)/ } },
  { rule: "another cluster's data is never touched", when: 'a cascade checks its data against the primary', fn: 'decide_same_cluster', args: [SYS, m(0), SYS], expect: { verdict: 'same' } },
  { rule: "another cluster's data is never touched", when: 'the primary\u2019s identifier is unknown', fn: 'decide_same_cluster', args: [SYS, m(0), ''], expect: { verdict: 'same' } },
  { rule: 'a claim the primary has no record of is re-cloned', when: 'the primary has no record of this node', fn: 'decide_join', args: ['1003', SYS, m(0), SYS, '0', '2', '4'], expect: { verdict: 'reclone', reason: /stale data on a reused claim: primary pg-0\S* has no repmgr record of node 1003/ } },
  { rule: 'never rewind onto an older timeline', when: 'this node is on timeline 5, the primary on 4', fn: 'decide_join', args: ['1001', SYS, m(0), SYS, '1', '5', '4'], expect: { verdict: 'wait', reason: /local timeline 5 is newer than primary pg-0\S*'s timeline 4/ } },
  { rule: 'a node of the same cluster rejoins the primary', when: 'an older timeline (rewind)', fn: 'decide_join', args: ['1001', SYS, m(0), SYS, '1', '3', '4'], expect: { verdict: 'rejoin' } },
  { rule: 'a node of the same cluster rejoins the primary', when: 'the primary could not be asked for its records or timeline', fn: 'decide_join', args: ['1001', SYS, m(0), SYS, '', '5', '0'], expect: { verdict: 'rejoin' } },

  // ---- cascade upstream
  { rule: 'cascades spread over the first-layer standbys by ordinal', when: 'ordinal 1 starts at the second', fn: 'decide_upstream', args: ['1', facts({ host: m(1), state: 'standby', streaming: 1 }), facts({ host: m(2), state: 'standby', streaming: 1 })], expect: { verdict: 'upstream', reply: `${m(2)} ${m(1)}` } },
  { rule: 'cascades spread over the first-layer standbys by ordinal', when: 'ordinal 2 wraps around to the first', fn: 'decide_upstream', args: ['2', facts({ host: m(1), state: 'standby', streaming: 1 }), facts({ host: m(2), state: 'standby', streaming: 1 })], expect: { verdict: 'upstream', reply: `${m(1)} ${m(2)}` } },
  { rule: 'only a streaming first-layer standby is an upstream', when: 'one does not stream, one is the primary', fn: 'decide_upstream', args: ['0', facts({ host: m(0), state: 'primary', streaming: 0 }), facts({ host: m(1), state: 'standby', streaming: 0 }), facts({ host: m(2), state: 'standby', streaming: 1 })], expect: { verdict: 'upstream', reply: m(2) } },
  { rule: 'only a streaming first-layer standby is an upstream', when: 'none streams', fn: 'decide_upstream', args: ['0', facts({ host: m(1), state: 'standby', streaming: 0 }), silent(2)], expect: { verdict: 'none' } },
  { rule: 'a cascade on the primary for two checks follows a first-layer standby', when: 'the first check on the primary', fn: 'decide_cascade_follow', args: ['1', '1', '0', '0'], expect: { verdict: 'wait', reply: '1 0' } },
  { rule: 'a cascade on the primary for two checks follows a first-layer standby', when: 'the second check', fn: 'decide_cascade_follow', args: ['1', '1', '1', '0'], expect: { verdict: 'follow', reason: /upstream is the primary for 2 checks/, reply: '2 0' } },
  { rule: 'a cascade on the primary for two checks follows a first-layer standby', when: 'streaming from a first-layer standby resets both counts', fn: 'decide_cascade_follow', args: ['1', '0', '1', '2'], expect: { verdict: 'ok', reply: '0 0' } },
  { rule: 'a cascade not streaming for three checks follows a first-layer standby', when: 'the second check', fn: 'decide_cascade_follow', args: ['0', '0', '1', '1'], expect: { verdict: 'wait', reply: '1 2' } },
  { rule: 'a cascade not streaming for three checks follows a first-layer standby', when: 'the third check', fn: 'decide_cascade_follow', args: ['0', '0', '0', '2'], expect: { verdict: 'follow', reason: /not streaming for 3 checks/, reply: '0 3' } },

  // ---- member standbys
  { rule: 'a member standby that does not stream while a primary serves follows it', when: 'the second pass of three', fn: 'decide_member_stream', args: ['0', '1', '1', '3'], expect: { verdict: 'wait', reply: '2' } },
  { rule: 'a member standby that does not stream while a primary serves follows it', when: 'the third pass', fn: 'decide_member_stream', args: ['0', '1', '2', '3'], expect: { verdict: 'follow', reason: /not streaming while a primary serves for 3 checks/, reply: '3' } },
  { rule: 'a member standby that does not stream while a primary serves follows it', when: 'no primary serves', fn: 'decide_member_stream', args: ['0', '0', '2', '3'], expect: { verdict: 'ok', reply: '0' } },
  { rule: 'a member standby that does not stream while a primary serves follows it', when: 'it streams again', fn: 'decide_member_stream', args: ['1', '1', '2', '3'], expect: { verdict: 'ok', reply: '0' } },
  { rule: 'a standby without a primary joins the election after the failover wait', when: 'first seen without a primary: the clock starts', fn: 'decide_orphan', args: ['0', '0', '0', '1000', '50'], expect: { verdict: 'wait', reply: '1000' } },
  { rule: 'a standby without a primary joins the election after the failover wait', when: '49 s of 50', fn: 'decide_orphan', args: ['0', '0', '951', '1000', '50'], expect: { verdict: 'wait', reason: /49s of 50s/, reply: '951' } },
  { rule: 'a standby without a primary joins the election after the failover wait', when: '50 s', fn: 'decide_orphan', args: ['0', '0', '950', '1000', '50'], expect: { verdict: 'elect', reason: /without primary for 50s/, reply: '950' } },
  { rule: 'a standby without a primary joins the election after the failover wait', when: 'it streams', fn: 'decide_orphan', args: ['1', '0', '950', '1000', '50'], expect: { verdict: 'ok', reply: '0' } },
  { rule: 'a standby without a primary joins the election after the failover wait', when: 'a primary is found', fn: 'decide_orphan', args: ['0', '1', '950', '1000', '50'], expect: { verdict: 'ok', reply: '0' } },

  // ---- handoff pauses
  { rule: 'the handoff target restarts repmgrd unpaused, after its primary record', when: 'its record says primary', fn: 'decide_pause', args: pause(1, 1, '', '', 0, 1), expect: { verdict: 'restart', reason: /this node is the primary now/ } },
  { rule: 'the handoff target restarts repmgrd unpaused, after its primary record', when: 'the old primary stopped before writing the record', fn: 'decide_pause', args: pause(1, 0, '', '', 0, 1), expect: { verdict: 'record' } },
  { rule: 'a paused standby resumes once it streams from the new primary', when: 'it streams from the new primary', fn: 'decide_pause', args: pause(0, 1, m(1), m(1), 0, 2), expect: { verdict: 'restart', reason: /streaming from the new primary pg-1/ } },
  { rule: 'a paused standby follows the new primary itself after two passes', when: 'the second pass', fn: 'decide_pause', args: pause(0, 1, m(1), m(0), 1, 5), expect: { verdict: 'wait', reply: '2' } },
  { rule: 'a paused standby follows the new primary itself after two passes', when: 'the third pass', fn: 'decide_pause', args: pause(0, 1, m(1), '', 2, 8), expect: { verdict: 'follow', reason: /not streaming from the new primary pg-1/, reply: '3' } },
  { rule: 'a pause without a new primary ends after PGHA_HANDOFF_PAUSE_MAX', when: '29 s of 30', fn: 'decide_pause', args: pause(0, 1, '', '', 0, 29), expect: { verdict: 'wait' } },
  { rule: 'a pause without a new primary ends after PGHA_HANDOFF_PAUSE_MAX', when: '30 s', fn: 'decide_pause', args: pause(0, 1, '', '', 0, 30), expect: { verdict: 'resume', reason: /paused for 30s and no new primary/ } },

  // ---- promotion guard
  { rule: 'a sibling holding more WAL blocks the promotion', when: 'a sibling is ahead', fn: 'decide_promotion', args: ['1', '0/5000100', `host=${m(2)} recovery=1 lsn=0/5000200`], expect: { verdict: 'refuse', reason: /pg-2\S* holds WAL up to 0\/5000200, this node only up to 0\/5000100/ } },
  { rule: 'a sibling holding more WAL blocks the promotion', when: 'the sibling holds as much (the election broke the tie)', fn: 'decide_promotion', args: ['1', '0/5000100', `host=${m(2)} recovery=1 lsn=0/5000100`], expect: { verdict: 'promote' } },
  { rule: 'a sibling out of recovery blocks the promotion', when: 'a sibling is a live primary', fn: 'decide_promotion', args: ['1', '0/5000100', `host=${m(2)} recovery=0 lsn=0/4000000`], expect: { verdict: 'refuse', reason: /pg-2\S* is out of recovery/ } },
  { rule: "unreachable siblings are left to repmgrd's majority rule", when: 'one sibling does not answer, one is behind', fn: 'decide_promotion', args: ['1', '0/5000100', `host=${m(0)}`, `host=${m(2)} recovery=1 lsn=0/5000000`], expect: { verdict: 'promote', reason: /no reachable sibling is ahead of 0\/5000100/ } },
  { rule: 'only a standby is promoted', when: 'this node is not in recovery', fn: 'decide_promotion', args: ['0', '0/5000100'], expect: { verdict: 'refuse', reason: /not in recovery/ } },
];

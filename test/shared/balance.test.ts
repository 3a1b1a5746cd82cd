/**
 * The balancing bench on ../shared/data/lb: the scenario builder reads the Azure VM speeds and
 * the Alibaba call rates, and the suite's slow-backend scenario shows the predictive weights
 * diverting traffic within seconds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PredictiveWeigher } from '../../src/balance/predictive-weigher.js';
import { simulate } from '../../src/sim/balance-sim.js';
import { buildScenarios, readAzureSpeeds, SCENARIO_NAMES } from '../../src/sim/bench-balance.js';

const dir = fileURLToPath(new URL('../../../shared/data/lb/', import.meta.url));

describe('bench balance: shared lb data', () => {
  it('builds the named scenario suite from the shared data', () => {
    if (!existsSync(dir)) throw new Error(`${dir} is missing: shared/ must sit beside the repo`);
    const scenarios = buildScenarios(dir, 1);
    expect(scenarios.map((s) => s.name)).toEqual([...SCENARIO_NAMES]);
    const speeds = readAzureSpeeds(
      readFileSync(
        `${dir}azure-vm-noise-2024/test_suite=PostgreSQL/test_name=Scaling_Factor:_25_-_Clients:_25_-_Mode:_Read_Only/vm_lifespan=short/vm_region=eastus/vm_sku=B8ms/unit=TPS.csv`,
        'utf8',
      ),
    );
    expect(speeds.length).toBe(11_819);
    // The B8ms fleet is bimodal: about a quarter of VMs run at about half the median speed.
    expect(speeds.filter((s) => s < 0.7).length / speeds.length).toBeGreaterThan(0.15);
  });

  it('slow-backend: the predictive weights divert within 5 s and beat round robin', () => {
    const s = buildScenarios(dir, 1).find((x) => x.name === 'slow-backend')!;
    const opts = { seed: 1, weigher: () => new PredictiveWeigher() };
    const rr = simulate(s, 'round-robin', opts);
    const p = simulate(s, 'prescient-wp2c', opts);
    expect(p.divertSec).not.toBeNull();
    expect(p.divertSec!).toBeLessThanOrEqual(5);
    expect(p.p99Ms).toBeLessThan(rr.p99Ms);
  });
});

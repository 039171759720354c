/**
 * The simulated-node agent (kwok-style): registers the simulated node with its Lease and writes
 * Running/Ready status for the pods bound to it, which never run (scale tests and the controller
 * benchmark). Every pod that runs, runs on the real node (kubelet + containerd, test/cluster/realnode.ts).
 */
import { Kube } from './kube.js';
import type { ClusterInfo } from './cluster-info.js';
import { NodeHeartbeat, SIMULATED_TAINT_KEY } from './node.js';
import { SimulatedNode } from './sim.js';

export interface AgentOptions {
  /** Concurrent status writes for the simulated node. */
  readonly simConcurrency: number;
}

export const DEFAULT_AGENT_OPTIONS: AgentOptions = { simConcurrency: 8 };

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;

export const jsonLogger: Logger = (msg, fields) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
};

export interface RunningAgent {
  stop(): Promise<void>;
}

export async function startAgent(info: ClusterInfo, opts: AgentOptions, log: Logger = jsonLogger): Promise<RunningAgent> {
  const kube = await Kube.fromKubeconfig(info.kubeconfig);
  const sim = new NodeHeartbeat(kube, {
    name: info.simNodeName, internalIP: info.nodeIP, podCIDR: info.simPodCIDR, version: info.version,
    taints: [{ key: SIMULATED_TAINT_KEY, value: 'true', effect: 'NoSchedule' }], labels: { [SIMULATED_TAINT_KEY]: 'true', type: 'kwok' },
    capacity: { cpu: '1000', memory: '4000Gi', pods: '20000', 'ephemeral-storage': '10Ti' },
  }, log);
  await sim.register();
  sim.start();
  const stopCtl = new AbortController();
  const simulating = new SimulatedNode(kube, { nodeName: info.simNodeName, hostIP: info.nodeIP, podCIDR: info.simPodCIDR, concurrency: opts.simConcurrency, log }).run(stopCtl.signal);
  log('simulated node agent started', { simNode: info.simNodeName });
  return {
    async stop() {
      stopCtl.abort();
      sim.stop();
      void simulating;
      kube.close();
    },
  };
}

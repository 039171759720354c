/**
 * The CLI's view of its environment: the one place the user verbs read process.env. kubectl's
 * variables decide which cluster the verbs talk to (cli/kube/kubeconfig.ts).
 */
import { homedir } from 'node:os';

export interface CliEnv {
  /** KUBECONFIG: a list of kubeconfig files separated by ':' (path.delimiter). */
  readonly kubeconfig: string | undefined;
  /** The user's home directory, for ~/.kube/config. */
  readonly home: string;
  /** Set in a pod: the API server's in-cluster address. */
  readonly serviceHost: string | undefined;
  readonly servicePort: string | undefined;
}

export function cliEnv(env: Readonly<Record<string, string | undefined>> = process.env): CliEnv {
  return {
    kubeconfig: env['KUBECONFIG'],
    home: env['HOME'] ?? homedir(),
    serviceHost: env['KUBERNETES_SERVICE_HOST'],
    servicePort: env['KUBERNETES_SERVICE_PORT'],
  };
}

/** The injection config the golden files were generated with: fixed values, no clock, no keys. */
import type { InjectionConfig } from '../patch.js';

export const TEST_ANCHORS_PEM = '-----BEGIN CERTIFICATE-----\nTEST-ANCHOR\n-----END CERTIFICATE-----\n';

export const TEST_CONFIG: InjectionConfig = {
  image: 'ghcr.io/weft-dev/weft:0.1.0',
  proxyVersion: '0.1.0',
  trustDomain: 'cluster.local',
  trustAnchorsPem: TEST_ANCHORS_PEM,
  controllerAddr: 'weft-controller.weft-system.svc.cluster.local:8090',
  clusterNetworks: ['10.0.0.0/8', 'fd00::/8'],
  logLevel: 'info',
  defaultInboundPolicy: 'all-unauthenticated',
  resources: { cpuRequest: '100m', memoryRequest: '64Mi', memoryLimit: '512Mi' },
  initResources: { cpuRequest: '10m', memoryRequest: '32Mi', cpuLimit: '200m', memoryLimit: '128Mi' },
};

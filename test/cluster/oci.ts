/**
 * Single-layer OCI image archives made without a container engine: the layer is a tar of a staged
 * directory (GNU tar with fixed owner, mode bits as staged, mtime 0 and sorted names, so the same
 * input gives the same digest), wrapped in an OCI image layout (oci-layout, index.json, blobs/) and
 * tarred again for `ctr images import`. The manifest carries `io.containerd.image.name`, so containerd
 * keeps the image under its full name.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { must } from './net.js';

export interface ImageConfig {
  /** full image name, e.g. weft.dev/test/pause:1 */
  name: string;
  entrypoint: string[];
  cmd?: string[];
  env?: string[];
  user?: string;
  workingDir?: string;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

interface Blob {
  digest: string;
  size: number;
}

async function putBlob(layout: string, data: Buffer): Promise<Blob> {
  const digest = sha256(data);
  await writeFile(join(layout, 'blobs', 'sha256', digest), data);
  return { digest: `sha256:${digest}`, size: data.length };
}

/** The image config and manifest JSON for one uncompressed layer (pure; exported for tests). */
export function imageDocuments(cfg: ImageConfig, layer: Blob): { config: string; manifest: (config: Blob) => string } {
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {
      Entrypoint: cfg.entrypoint,
      ...(cfg.cmd ? { Cmd: cfg.cmd } : {}),
      Env: cfg.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(cfg.user ? { User: cfg.user } : {}),
      WorkingDir: cfg.workingDir ?? '/',
    },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
    history: [{ created_by: 'weft test/cluster/oci.ts', created: '1970-01-01T00:00:00Z' }],
    created: '1970-01-01T00:00:00Z',
  });
  const manifest = (c: Blob): string =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
    });
  return { config, manifest };
}

/**
 * Writes `<out>` (an OCI archive) holding one layer made of `rootfs` (a directory, contents at /).
 * Returns the manifest digest.
 */
export async function buildOciArchive(rootfs: string, cfg: ImageConfig, out: string): Promise<string> {
  const work = `${out}.work`;
  await rm(work, { recursive: true, force: true });
  const layout = join(work, 'layout');
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  const layerTar = join(work, 'layer.tar');
  await must('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-cf', layerTar, '-C', rootfs, '.']);
  const layer = await putBlob(layout, await readFile(layerTar));
  await rm(layerTar);
  const docs = imageDocuments(cfg, layer);
  const config = await putBlob(layout, Buffer.from(docs.config));
  const manifest = await putBlob(layout, Buffer.from(docs.manifest(config)));
  const tag = cfg.name.slice(cfg.name.lastIndexOf(':') + 1);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifest.digest,
        size: manifest.size,
        annotations: { 'io.containerd.image.name': cfg.name, 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  await writeFile(join(layout, 'index.json'), JSON.stringify(index));
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await must('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', `${out}.tmp`, '-C', layout, '.']);
  await rename(`${out}.tmp`, out);
  await rm(work, { recursive: true, force: true });
  return manifest.digest;
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

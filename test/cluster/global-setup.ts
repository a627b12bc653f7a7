/** vitest globalSetup of the cluster suite: the images of the version set, built before the first test. */
import { prebuildImages } from '../../podrt/prebuild';
import { versionSet } from '../../podrt';
import { setImages } from './harness';

export default async function setup(): Promise<void> {
  const images = setImages(versionSet());
  await prebuildImages([images.postgres, images.pgpool]);
}

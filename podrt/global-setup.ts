/** vitest globalSetup of the runtime suite: its images, built before the first test. */
import { TEST_PGPOOL_IMAGE, TEST_POSTGRES_IMAGE } from './helpers';
import { prebuildImages } from './prebuild';

export default async function setup(): Promise<void> {
  await prebuildImages(['busybox', TEST_POSTGRES_IMAGE, TEST_PGPOOL_IMAGE]);
}

export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__testContainers ?? []).map((container) => container.stop()));
}

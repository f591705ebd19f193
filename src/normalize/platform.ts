/**
 * OptPlatform / KickedDevice Platform normalization (reference §1): case-insensitive match on the
 * documented values; State.StateChange sends `IOS`, older docs `Mac` and `IPad`. Unknown values pass
 * through unchanged.
 */
const PLATFORMS: ReadonlyMap<string, string> = new Map([
  ['ios', 'iOS'],
  ['android', 'Android'],
  ['web', 'Web'],
  ['windows', 'Windows'],
  ['mac', 'macOS'],
  ['macos', 'macOS'],
  ['ipad', 'iPad'],
  ['linux', 'Linux'],
  ['restapi', 'RESTAPI'],
  ['unknown', 'Unknown'],
]);

export function normalizePlatform(value: string): string {
  return PLATFORMS.get(value.toLowerCase()) ?? value;
}

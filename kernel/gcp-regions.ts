/**
 * The GCP regions and zones Meridian knows, kept in the project so that a misspelt region or
 * zone is refused where it is written, with a "did you mean".
 *
 * Source: Google Cloud, "Regions and zones" (https://cloud.google.com/compute/docs/regions-zones)
 * and the per-product region tables that list each zone (e.g. Memorystore,
 * https://cloud.google.com/memorystore/docs/redis/regions), read on 2026-12-05: 42 regions.
 * A region Google opens later is added here (its zones and the city of its data centres).
 *
 * Each entry: the zone letters, and the latitude and longitude (degrees) of the nearest city,
 * enough to rank regions by great-circle distance when a platform does not state its
 * failover order.
 */
import { didYouMean, nearestAll } from './did-you-mean';

interface GcpRegion {
  /** Zone suffixes: `bcd` is `<region>-b`, `<region>-c`, `<region>-d`. */
  readonly zones: string;
  readonly location: readonly [number, number];
}

const GCP_REGIONS: Readonly<Record<string, GcpRegion>> = {
  'africa-south1': { zones: 'abc', location: [-26.2, 28.05] }, // Johannesburg
  'asia-east1': { zones: 'abc', location: [24.05, 120.52] }, // Changhua County
  'asia-east2': { zones: 'abc', location: [22.32, 114.17] }, // Hong Kong
  'asia-northeast1': { zones: 'abc', location: [35.68, 139.69] }, // Tokyo
  'asia-northeast2': { zones: 'abc', location: [34.69, 135.5] }, // Osaka
  'asia-northeast3': { zones: 'abc', location: [37.57, 126.98] }, // Seoul
  'asia-south1': { zones: 'abc', location: [19.08, 72.88] }, // Mumbai
  'asia-south2': { zones: 'abc', location: [28.61, 77.21] }, // Delhi
  'asia-southeast1': { zones: 'abc', location: [1.35, 103.82] }, // Singapore
  'asia-southeast2': { zones: 'abc', location: [-6.21, 106.85] }, // Jakarta
  'australia-southeast1': { zones: 'abc', location: [-33.87, 151.21] }, // Sydney
  'australia-southeast2': { zones: 'abc', location: [-37.81, 144.96] }, // Melbourne
  'europe-central2': { zones: 'abc', location: [52.23, 21.01] }, // Warsaw
  'europe-north1': { zones: 'abc', location: [60.57, 27.2] }, // Hamina
  'europe-north2': { zones: 'abc', location: [59.33, 18.07] }, // Stockholm
  'europe-southwest1': { zones: 'abc', location: [40.42, -3.7] }, // Madrid
  'europe-west1': { zones: 'bcd', location: [50.45, 3.82] }, // St. Ghislain
  'europe-west2': { zones: 'abc', location: [51.51, -0.13] }, // London
  'europe-west3': { zones: 'abc', location: [50.11, 8.68] }, // Frankfurt
  'europe-west4': { zones: 'abc', location: [53.44, 6.83] }, // Eemshaven
  'europe-west6': { zones: 'abc', location: [47.38, 8.54] }, // Zurich
  'europe-west8': { zones: 'abc', location: [45.46, 9.19] }, // Milan
  'europe-west9': { zones: 'abc', location: [48.86, 2.35] }, // Paris
  'europe-west10': { zones: 'abc', location: [52.52, 13.4] }, // Berlin
  'europe-west12': { zones: 'abc', location: [45.07, 7.69] }, // Turin
  'me-central1': { zones: 'abc', location: [25.29, 51.53] }, // Doha
  'me-central2': { zones: 'abc', location: [26.43, 50.1] }, // Dammam
  'me-west1': { zones: 'abc', location: [32.09, 34.78] }, // Tel Aviv
  'northamerica-northeast1': { zones: 'abc', location: [45.5, -73.57] }, // Montréal
  'northamerica-northeast2': { zones: 'abc', location: [43.65, -79.38] }, // Toronto
  'northamerica-south1': { zones: 'abc', location: [20.59, -100.39] }, // Querétaro
  'southamerica-east1': { zones: 'abc', location: [-23.55, -46.63] }, // São Paulo
  'southamerica-west1': { zones: 'abc', location: [-33.45, -70.67] }, // Santiago
  'us-central1': { zones: 'abcf', location: [41.26, -95.86] }, // Council Bluffs
  'us-east1': { zones: 'bcd', location: [33.2, -80.01] }, // Moncks Corner
  'us-east4': { zones: 'abc', location: [39.04, -77.49] }, // Ashburn
  'us-east5': { zones: 'abc', location: [39.96, -83.0] }, // Columbus
  'us-south1': { zones: 'abc', location: [32.78, -96.8] }, // Dallas
  'us-west1': { zones: 'abc', location: [45.59, -121.18] }, // The Dalles
  'us-west2': { zones: 'abc', location: [34.05, -118.24] }, // Los Angeles
  'us-west3': { zones: 'abc', location: [40.76, -111.89] }, // Salt Lake City
  'us-west4': { zones: 'abc', location: [36.17, -115.14] }, // Las Vegas
};

/** The names of the GCP regions, in the table's order. */
export const GCP_REGION_NAMES: readonly string[] = Object.keys(GCP_REGIONS);

/** Whether `name` is a GCP region. */
export function isGcpRegion(name: string): boolean {
  return Object.hasOwn(GCP_REGIONS, name);
}

/** The zones of a GCP region (`us-east1-b`, ...), or [] for a name that is not one. */
export function gcpZones(region: string): string[] {
  return isGcpRegion(region) ? [...GCP_REGIONS[region].zones].map((z) => `${region}-${z}`) : [];
}

/** Great-circle distance in kilometres between two GCP regions. */
export function regionDistanceKm(a: string, b: string): number {
  const [lat1, lon1] = GCP_REGIONS[a].location;
  const [lat2, lon2] = GCP_REGIONS[b].location;
  const rad = Math.PI / 180;
  const h = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

/** What a region name looks like (`us-east1`, `europe-west10`): such a name must be a GCP region. */
export const REGION_SHAPED = /^[a-z]+-[a-z]+[0-9]+$/;

/**
 * Why `name` is not a GCP region, with the near misses (or the regions of its area):
 * `is not a GCP region (did you mean "asia-south1" or "asia-south2"?)`; undefined when it is one.
 */
export function notGcpRegion(name: string): string | undefined {
  if (isGcpRegion(name)) return undefined;
  const near = didYouMean(name, GCP_REGION_NAMES);
  if (near) return `is not a GCP region${near}`;
  const area = name.split('-')[0];
  const same = GCP_REGION_NAMES.filter((r) => r.startsWith(`${area}-`));
  return same.length > 0
    ? `is not a GCP region (${area}-*: ${same.join(', ')})`
    : `is not a GCP region (areas: ${[...new Set(GCP_REGION_NAMES.map((r) => r.split('-')[0]))].join(', ')}; every region in kernel/gcp-regions.ts)`;
}

/** Why `zone` is not a zone of GCP region `region` (which is one), naming its zones; undefined when it is. */
export function notZoneOf(zone: string, region: string): string | undefined {
  const zones = gcpZones(region);
  if (zones.includes(zone)) return undefined;
  // A guess that names every zone says nothing the list does not.
  const near = nearestAll(zone, zones).length < zones.length ? didYouMean(zone, zones) : '';
  return `is not a zone of ${region}${near} (zones: ${zones.join(', ')})`;
}

/**
 * Where each GCP region's data centres are (latitude, longitude of the nearest city, in
 * degrees): enough to rank regions by great-circle distance when a platform does not state
 * its failover order. A region missing here needs an explicit `regions.<r>.failover`.
 */
export const GCP_REGION_LOCATIONS: Readonly<Record<string, readonly [number, number]>> = {
  'africa-south1': [-26.2, 28.05], // Johannesburg
  'asia-east1': [24.05, 120.52], // Changhua County
  'asia-east2': [22.32, 114.17], // Hong Kong
  'asia-northeast1': [35.68, 139.69], // Tokyo
  'asia-northeast2': [34.69, 135.5], // Osaka
  'asia-northeast3': [37.57, 126.98], // Seoul
  'asia-south1': [19.08, 72.88], // Mumbai
  'asia-south2': [28.61, 77.21], // Delhi
  'asia-southeast1': [1.35, 103.82], // Singapore
  'asia-southeast2': [-6.21, 106.85], // Jakarta
  'australia-southeast1': [-33.87, 151.21], // Sydney
  'australia-southeast2': [-37.81, 144.96], // Melbourne
  'europe-central2': [52.23, 21.01], // Warsaw
  'europe-north1': [60.57, 27.2], // Hamina
  'europe-north2': [59.33, 18.07], // Stockholm
  'europe-southwest1': [40.42, -3.7], // Madrid
  'europe-west1': [50.45, 3.82], // St. Ghislain
  'europe-west2': [51.51, -0.13], // London
  'europe-west3': [50.11, 8.68], // Frankfurt
  'europe-west4': [53.44, 6.83], // Eemshaven
  'europe-west6': [47.38, 8.54], // Zurich
  'europe-west8': [45.46, 9.19], // Milan
  'europe-west9': [48.86, 2.35], // Paris
  'europe-west10': [52.52, 13.4], // Berlin
  'europe-west12': [45.07, 7.69], // Turin
  'me-central1': [25.29, 51.53], // Doha
  'me-central2': [26.43, 50.1], // Dammam
  'me-west1': [32.09, 34.78], // Tel Aviv
  'northamerica-northeast1': [45.5, -73.57], // Montréal
  'northamerica-northeast2': [43.65, -79.38], // Toronto
  'northamerica-south1': [20.59, -100.39], // Querétaro
  'southamerica-east1': [-23.55, -46.63], // São Paulo
  'southamerica-west1': [-33.45, -70.67], // Santiago
  'us-central1': [41.26, -95.86], // Council Bluffs
  'us-east1': [33.2, -80.01], // Moncks Corner
  'us-east4': [39.04, -77.49], // Ashburn
  'us-east5': [39.96, -83.0], // Columbus
  'us-south1': [32.78, -96.8], // Dallas
  'us-west1': [45.59, -121.18], // The Dalles
  'us-west2': [34.05, -118.24], // Los Angeles
  'us-west3': [40.76, -111.89], // Salt Lake City
  'us-west4': [36.17, -115.14], // Las Vegas
};

/** Great-circle distance in kilometres between two known GCP regions. */
export function regionDistanceKm(a: string, b: string): number {
  const [lat1, lon1] = GCP_REGION_LOCATIONS[a];
  const [lat2, lon2] = GCP_REGION_LOCATIONS[b];
  const rad = Math.PI / 180;
  const h = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

// Where the camera looks when the viewer opens, a project opens or Home is pressed: the extent
// of the data (the catalog's datasets, or the open project's layers), never an empty continent.
// Pure helpers (testable under Node) plus showExtent(), which uses the global Cesium.

export const WORLD = [-180, -90, 180, 90];
const isNum = (v) => typeof v === "number" && Number.isFinite(v);

/** True for [west, south, east, north] in degrees (west > east crosses the antimeridian). */
export function validBounds(b) {
  if (!Array.isArray(b) || b.length !== 4 || !b.every(isNum)) return false;
  const [w, s, e, n] = b;
  return w >= -180 && w <= 180 && e >= -180 && e <= 180 && s >= -90 && n <= 90 && s <= n;
}

/** Longitude span of bounds in degrees (antimeridian-aware). */
export function lonSpan([w, , e]) {
  return e >= w ? e - w : e + 360 - w;
}

const wrap = (lon) => {
  if (lon > 180) return lon - 360;
  if (lon < -180) return lon + 360;
  return lon;
};

/**
 * The smallest [west, south, east, north] holding every valid bounds in `list` (others are
 * ignored); null when there is none. Longitudes are intervals on a circle: the union is what is
 * left after the widest empty gap, so data on both sides of the antimeridian gives west > east.
 */
export function unionBounds(list) {
  const boxes = (list || []).filter(validBounds);
  if (!boxes.length) return null;
  const south = Math.min(...boxes.map((b) => b[1]));
  const north = Math.max(...boxes.map((b) => b[3]));
  if (boxes.some((b) => b[0] === -180 && b[2] === 180)) return [-180, south, 180, north];
  const intervals = boxes
    .map(([w, , e]) => {
      const start = w === 180 ? -180 : w;
      return [start, start + lonSpan([w, 0, e])];
    })
    .sort((a, b) => a[0] - b[0]);
  const merged = [intervals[0].slice()];
  for (const [start, end] of intervals.slice(1)) {
    const last = merged[merged.length - 1];
    if (start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  // The gap after merged[i] runs to the start of the next one (the first, one turn later).
  let widest = -Infinity;
  let after = 0;
  merged.forEach(([, end], i) => {
    const next = i + 1 < merged.length ? merged[i + 1][0] : merged[0][0] + 360;
    if (next - end > widest) {
      widest = next - end;
      after = i;
    }
  });
  if (widest <= 0) return [-180, south, 180, north];
  const west = merged[(after + 1) % merged.length][0];
  const east = merged[after][1];
  if (east - west >= 360 || (west === -180 && east === 180)) return [-180, south, 180, north];
  return [wrap(west), south, wrap(east), north];
}

/**
 * Bounds with a margin (`fraction` of their size on each side, at least `minSpan` degrees in
 * all), so the data is not flush with the screen's edge and a point does not zoom to nothing.
 */
export function padBounds(bounds, { fraction = 0.1, minSpan = 0.01 } = {}) {
  if (!validBounds(bounds)) return null;
  const [w, s, e, n] = bounds;
  const width = lonSpan(bounds);
  const height = n - s;
  const padX = Math.max(width * fraction, (minSpan - width) / 2, 0);
  const padY = Math.max(height * fraction, (minSpan - height) / 2, 0);
  const south = Math.max(-90, s - padY);
  const north = Math.min(90, n + padY);
  if (width + 2 * padX >= 360) return [-180, south, 180, north];
  return [wrap(w - padX), south, wrap(e + padX), north];
}

/** The bounds of catalog entries (datasets, mosaics, or anything with `bounds`). */
export function entriesExtent(entries) {
  return unionBounds((entries || []).map((entry) => entry && entry.bounds));
}

/** The catalog's extent: every dataset and mosaic the caller can see; null for an empty one. */
export function catalogExtent(catalog) {
  return entriesExtent([...((catalog && catalog.datasets) || []), ...((catalog && catalog.mosaics) || [])]);
}

/** True when `outer` holds `inner` (both [w, s, e, n], west <= east). */
export function containsBounds(outer, inner) {
  return outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];
}

/**
 * Move the camera onto `bounds` (with a margin), or onto the whole globe when `bounds` is null.
 * `duration` 0 jumps there at once. Resolves when the camera has arrived (false if cancelled).
 */
export function showExtent(viewer, bounds, { duration } = {}) {
  const Cesium = window.Cesium;
  const padded = bounds ? padBounds(bounds) : null;
  const destination = padded
    ? Cesium.Rectangle.fromDegrees(...padded)
    : Cesium.Cartesian3.fromDegrees(0, 20, 2.2e7); // the whole globe, from well above
  if (duration === 0) {
    viewer.camera.cancelFlight();
    viewer.camera.setView({ destination });
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    viewer.camera.flyTo({ destination, duration, complete: () => resolve(true), cancel: () => resolve(false) });
  });
}

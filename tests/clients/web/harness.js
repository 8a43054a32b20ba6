// window.show(spec) draws one layer in a fresh map and resolves when the library says every tile
// in view is loaded: {errors: [...]}, the tile errors the library reported.
// spec: {lib: "ol" | "leaflet" | "maplibre", url, layer, lon, lat, zoom} where url is the WMTS
// capabilities (ol), the tile template (leaflet) or the TileJSON (maplibre); zoom is the
// 256-pixel Web Mercator zoom that OpenLayers and Leaflet use.
import * as maplibregl from "./node_modules/maplibre-gl/dist/maplibre-gl.mjs";

/* global ol, L */
let current = null;

function freshContainer() {
  if (current) current();
  current = null;
  const old = document.getElementById("map");
  const div = document.createElement("div");
  div.id = "map";
  old.replaceWith(div);
  return div;
}

async function showOpenLayers(spec, errors) {
  const text = await (await fetch(spec.url)).text();
  const caps = new ol.format.WMTSCapabilities().read(text);
  const options = ol.source.WMTS.optionsFromCapabilities(caps, {
    layer: spec.layer,
    matrixSet: "WebMercatorQuad",
  });
  const source = new ol.source.WMTS({ ...options, transition: 0 });
  source.on("tileloaderror", () => errors.push("tileloaderror"));
  const map = new ol.Map({
    target: freshContainer(),
    layers: [new ol.layer.Tile({ source })],
    view: new ol.View({ center: ol.proj.fromLonLat([spec.lon, spec.lat]), zoom: spec.zoom }),
    controls: [],
    interactions: [],
  });
  current = () => map.setTarget(undefined);
  await new Promise((resolve) => map.once("rendercomplete", resolve));
}

async function showLeaflet(spec, errors) {
  const map = L.map(freshContainer(), {
    zoomControl: false,
    attributionControl: false,
    fadeAnimation: false,
    zoomAnimation: false,
  });
  current = () => map.remove();
  map.setView([spec.lat, spec.lon], spec.zoom, { animate: false });
  await new Promise((resolve) => {
    L.tileLayer(spec.url)
      .on("tileerror", () => errors.push("tileerror"))
      .on("load", resolve)
      .addTo(map);
  });
}

async function showMapLibre(spec, errors) {
  const map = new maplibregl.Map({
    container: freshContainer(),
    style: {
      version: 8,
      sources: { data: { type: "raster", url: spec.url, tileSize: 256 } },
      layers: [{ id: "data", type: "raster", source: "data", paint: { "raster-fade-duration": 0 } }],
    },
    center: [spec.lon, spec.lat],
    zoom: spec.zoom - 1, // MapLibre's zoom counts 512-pixel worlds
    fadeDuration: 0,
    attributionControl: false,
    interactive: false,
    canvasContextAttributes: { preserveDrawingBuffer: true },
  });
  current = () => map.remove();
  map.on("error", (e) => errors.push(String((e.error && e.error.message) || e)));
  await new Promise((resolve) => map.once("idle", resolve));
}

const LIBRARIES = { ol: showOpenLayers, leaflet: showLeaflet, maplibre: showMapLibre };

window.show = async (spec) => {
  const errors = [];
  const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), 30000));
  const done = LIBRARIES[spec.lib](spec, errors).then(() => "loaded");
  const state = await Promise.race([done, timeout]);
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  return { state, errors };
};
document.body.dataset.ready = "1";

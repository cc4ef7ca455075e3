// The national map: the app's vector tiles (/tiles/{tileset}.json) drawn by MapLibre GL JS.
// Areas are coloured by problems per 1,000 households (or cases), points from zoom 12 for the
// roles whose TileJSON lists them. No basemap from outside: the tiles carry the boundaries.
(function () {
  "use strict";
  const box = document.getElementById("atlas");
  if (!box || !window.maplibregl) return;
  maplibregl.setWorkerUrl(box.dataset.worker);
  const tileset = box.dataset.tileset;
  const lang = box.dataset.lang;
  const value = tileset === "cases" ? "cases" : "problems_per_1000";
  // ColorBrewer YlOrRd, as the web maps and the exported styles.
  const colours = tileset === "cases"
    ? [0, "#ffffb2", 5, "#fecc5c", 20, "#fd8d3c", 50, "#f03b20", 200, "#bd0026"]
    : [0, "#ffffb2", 300, "#fecc5c", 600, "#fd8d3c", 900, "#f03b20", 1200, "#bd0026"];
  const centre = box.dataset.center.split(",").map(Number);
  fetch(box.dataset.tilejson, { credentials: "same-origin" })
    .then((answer) => answer.json())
    .then((tilejson) => {
      const layers = [
        { id: "background", type: "background", paint: { "background-color": "#f4f4f2" } },
        {
          id: "areas", type: "fill", source: "bamrung", "source-layer": "areas",
          paint: {
            "fill-color": ["case", ["==", ["get", value], null], "#d9d9d9",
              ["interpolate", ["linear"], ["get", value], ...colours]],
            "fill-opacity": ["interpolate", ["linear"], ["zoom"], 11, 0.85, 13, 0.3],
          },
        },
        {
          id: "outlines", type: "line", source: "bamrung", "source-layer": "areas",
          paint: { "line-color": "#636363", "line-width": 0.5 },
        },
      ];
      if (tilejson.vector_layers.some((layer) => layer.id === tileset)) {
        layers.push({
          id: "points", type: "circle", source: "bamrung", "source-layer": tileset,
          minzoom: 12,
          paint: { "circle-radius": 4, "circle-color": "#08519c", "circle-stroke-color": "#fff",
                   "circle-stroke-width": 1 },
        });
      }
      const map = new maplibregl.Map({
        container: box,
        style: { version: 8, sources: { bamrung: { type: "vector", url: box.dataset.tilejson } },
                 layers: layers },
        center: [centre[0], centre[1]],
        zoom: Number(box.dataset.zoom),
        maxZoom: tilejson.maxzoom,
        attributionControl: { customAttribution: tilejson.attribution },
      });
      map.addControl(new maplibregl.NavigationControl());
      map.on("click", "areas", (event) => {
        const p = event.features[0].properties;
        const name = (lang === "th" ? p.name_th : p.name_en) || p.code;
        const figure = p[value] === undefined || p[value] === null ? "–" : p[value];
        const text = document.createElement("div");
        text.textContent = `${name} (${p.code}): ${value} ${figure}`;
        new maplibregl.Popup().setLngLat(event.lngLat).setDOMContent(text).addTo(map);
      });
      window.bamrungAtlas = map; // for the tests, and for a curious planner's console
    });
})();

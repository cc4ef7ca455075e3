// The place of a report: a tap on the map (the app's own vector tiles: the areas' outlines) or
// the phone's position fills the longitude and latitude fields, which can also be typed.
(function () {
  "use strict";
  const box = document.getElementById("picker");
  const lon = document.getElementById("lon");
  const lat = document.getElementById("lat");
  const elsewhere = document.getElementById("place-map");
  if (!box || !lon || !lat || !elsewhere) return;
  let marker = null;
  let map = null;
  function put(lngLat) {
    lon.value = lngLat.lng.toFixed(6);
    lat.value = lngLat.lat.toFixed(6);
    elsewhere.checked = true;
    if (map) {
      if (!marker) marker = new maplibregl.Marker().setLngLat(lngLat).addTo(map);
      else marker.setLngLat(lngLat);
    }
  }
  if (window.maplibregl) {
    maplibregl.setWorkerUrl(box.dataset.worker);
    const centre = box.dataset.center.split(",").map(Number);
    map = new maplibregl.Map({
      container: box,
      style: {
        version: 8,
        sources: { bamrung: { type: "vector", url: box.dataset.tilejson } },
        layers: [
          { id: "background", type: "background", paint: { "background-color": "#f4f4f2" } },
          { id: "outlines", type: "line", source: "bamrung", "source-layer": "areas",
            paint: { "line-color": "#636363", "line-width": 1 } },
        ],
      },
      center: [centre[0], centre[1]],
      zoom: 13,
    });
    map.addControl(new maplibregl.NavigationControl());
    map.on("click", (event) => put(event.lngLat));
  }
  const locate = document.getElementById("locate");
  if (locate && navigator.geolocation) {
    locate.addEventListener("click", () => {
      navigator.geolocation.getCurrentPosition((found) => {
        const here = { lng: found.coords.longitude, lat: found.coords.latitude };
        put(here);
        if (map) map.flyTo({ center: [here.lng, here.lat], zoom: 15 });
      });
    });
  } else if (locate) {
    locate.hidden = true;
  }
})();

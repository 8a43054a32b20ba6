"""3D terrain for Cesium: quantized-mesh tiles and ``layer.json`` made on the fly from DEMs."""

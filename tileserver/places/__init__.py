"""An offline gazetteer: countries, regions (provinces, states …) and cities with polygons,
searched by name; a place's polygon is a search area (``intersects``)."""

from tileserver.places.gazetteer import Gazetteer, Place, open_gazetteer, place_feature

__all__ = ["Gazetteer", "Place", "open_gazetteer", "place_feature"]

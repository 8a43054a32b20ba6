"""Where tiles are made: the dataset reader, titiler dependencies, and the tile cache."""

"""Sample sets: the labels a user draws on an image to train a model, kept as datasets.

A sample set is a vector dataset (``tileserver.vectors``: FlatGeobuf + PMTiles, listed in the
catalog, downloadable as GeoJSON / GeoPackage) whose record says what it is for
(``sample_set``, ``samples_for``: the image, or the two dates of a change pair) and which
classes it holds (``classes``: value, name, colour). Every sample is stored as a polygon with
its ``class`` and the ``kind`` it was drawn as (polygon, brush stroke buffered to its width,
point buffered to a small disc). Each save replaces the samples whole and is a version of its
own, kept beside the current file, so a model's card can name the exact samples it learnt.
"""

from tileserver.samples.schemas import (
    Sample,
    SampleClass,
    SampleSetCreate,
    SampleSetInfo,
    SampleSetSave,
    TrainFromSamples,
)
from tileserver.samples.sets import (
    create_sample_set,
    export_samples,
    list_sample_sets,
    sample_features,
    sample_set,
    save_samples,
)
from tileserver.samples.training import train_inputs

__all__ = [
    "Sample",
    "SampleClass",
    "SampleSetCreate",
    "SampleSetInfo",
    "SampleSetSave",
    "TrainFromSamples",
    "create_sample_set",
    "export_samples",
    "list_sample_sets",
    "sample_features",
    "sample_set",
    "save_samples",
    "train_inputs",
]
